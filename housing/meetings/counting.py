"""The count of a meeting, as pure arithmetic over its roll and its ballots' answers.

What the close stores, the results page shows and the protocol prints all come from `count`:
exact fractions of m2, the quorum against all votes, and each question's outcome by the rule
table. A roll entry without a ballot did not vote; a ballot that left a question blank did not
vote on that question (it still counts towards the quorum, which is about taking part).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from housing.meetings.rules import Choice, DecisionKind, MeetingRules, Outcome, percent, weight


@dataclass(frozen=True)
class RollEntry:
    voter_id: int
    share_numerator: int
    share_denominator: int
    area_m2: object  # Decimal; kept loose so rows from any query fit

    @property
    def weight(self) -> Fraction:
        return weight(self.share_numerator, self.share_denominator, self.area_m2)


@dataclass(frozen=True)
class QuestionCount:
    question_id: int
    kind: DecisionKind
    votes_for: Fraction
    votes_against: Fraction
    votes_abstain: Fraction
    outcome: Outcome

    @property
    def cast(self) -> Fraction:
        return self.votes_for + self.votes_against + self.votes_abstain


@dataclass(frozen=True)
class Count:
    total: Fraction  # all votes of the building: the area of all its premises (m2)
    cast: Fraction  # the weight of the roll entries that returned a ballot
    quorum: bool
    questions: tuple[QuestionCount, ...]
    ballots: int
    roll: int

    @property
    def turnout_percent(self) -> Fraction:
        return percent(self.cast, self.total)


def count(
    *,
    total: Fraction,
    roll: Iterable[RollEntry],
    questions: Iterable[tuple[int, DecisionKind]],
    answers: Mapping[int, Mapping[int, Choice]],
    rules: MeetingRules,
) -> Count:
    """`answers` maps a voter id (a roll entry that returned a ballot) to its choices by question id."""
    weights = {entry.voter_id: entry.weight for entry in roll}
    cast = sum((weights[voter] for voter in answers), Fraction(0))
    quorum = rules.quorum_reached(cast=cast, total=total)
    results = []
    for question_id, kind in questions:
        sums = dict.fromkeys(Choice, Fraction(0))
        for voter, choices in answers.items():
            choice = choices.get(question_id)
            if choice is not None:
                sums[choice] += weights[voter]
        question_cast = sum(sums.values(), Fraction(0))
        outcome = rules.outcome(
            kind, votes_for=sums[Choice.yes], cast=question_cast, total=total, quorum=quorum
        )
        results.append(
            QuestionCount(question_id, kind, sums[Choice.yes], sums[Choice.no], sums[Choice.abstain], outcome)
        )
    return Count(
        total=total,
        cast=cast,
        quorum=quorum,
        questions=tuple(results),
        ballots=len(answers),
        roll=len(weights),
    )
