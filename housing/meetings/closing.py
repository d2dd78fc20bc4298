"""Turnout while the vote runs, the count (summed exactly by the database), and the close: the
results stored, the adopted decisions recorded and applied, the owners told.
"""

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from sqlalchemy import BigInteger, Integer, String, func, literal, union_all
from sqlmodel import Session, col, select

from housing.actors import Actor
from housing.errors import Conflict, DomainError
from housing.meetings import notices
from housing.meetings.counting import Count, QuestionCount, RollEntry, count
from housing.meetings.guards import city_day, lock_meeting, record_event, require_staff
from housing.meetings.models import (
    Ballot,
    BallotAnswer,
    BuildingDecision,
    Meeting,
    MeetingQuestion,
    MeetingStatus,
    MeetingVoter,
)
from housing.meetings.queries import ORGANIZERS
from housing.meetings.reading import questions_of
from housing.meetings.rules import (
    Choice,
    DecisionKind,
    MeetingRules,
    Outcome,
    as_text,
    from_text,
    percent,
    shown,
)
from housing.registry import service as registry
from housing.registry.models import (
    Building,
)
from housing.settings import MeetingSettings

# Turnout, the count, the close


@dataclass(frozen=True)
class Turnout:
    cast: Fraction  # m2 of the roll entries that returned a ballot
    total: Fraction  # all votes
    quorum_needed: Fraction  # the rule's share of all votes (m2); a quorum is more (or at least that)
    quorum_reached: bool
    ballots: int
    roll: int

    @property
    def percent(self) -> Fraction:
        return percent(self.cast, self.total)


def _rules(settings: Any | None) -> MeetingRules:
    return MeetingRules.of(settings if settings is not None else SimpleNamespace(meetings=MeetingSettings()))


def _roll_entries(session: Session, meeting: Meeting) -> list[RollEntry]:
    query = select(
        MeetingVoter.id, MeetingVoter.share_numerator, MeetingVoter.share_denominator, MeetingVoter.area_m2
    ).where(MeetingVoter.meeting_id == meeting.id)
    return [RollEntry(*row) for row in session.exec(query)]


def _answers(session: Session, meeting: Meeting) -> dict[int, dict[int, Choice]]:
    answers: dict[int, dict[int, Choice]] = {
        voter_id: {}
        for voter_id in session.exec(select(Ballot.voter_id).where(Ballot.meeting_id == meeting.id))
    }
    query = (
        select(Ballot.voter_id, BallotAnswer.question_id, BallotAnswer.choice)
        .join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id)
        .where(Ballot.meeting_id == meeting.id)
    )
    for voter_id, question_id, choice in session.exec(query):
        answers[voter_id][question_id] = Choice(choice)
    return answers


def _total(meeting: Meeting) -> Fraction:
    return Fraction(meeting.total_area_m2 or 0)


def turnout(session: Session, meeting: Meeting, *, settings: Any | None = None) -> Turnout:
    """The weight voted so far against all votes and the quorum; never how anyone voted.
    Give `settings` (the rule table); without it the default rules apply."""
    rules = _rules(settings)
    cast, ballots, roll = _cast(session, meeting)
    total = _total(meeting)
    return Turnout(
        cast=cast,
        total=total,
        quorum_needed=rules.quorum.fraction * total,
        quorum_reached=rules.quorum_reached(cast=cast, total=total),
        ballots=ballots,
        roll=roll,
    )


# The sums are taken by the database, exactly: a weight is share_numerator / share_denominator
# times the area, so the database sums share_numerator * area in whole hundredths of m2 (integers:
# exact on PostgreSQL and SQLite alike) per share denominator, and the few sums per denominator
# become fractions here. `counting.count` over the rows gives the same Count (the tests hold them
# to it); this one reads a few rows instead of one per ballot and answer.


def _hundredths():
    return MeetingVoter.share_numerator * func.cast(func.round(MeetingVoter.area_m2 * 100), BigInteger)


def _as_weight(hundredths: Any, denominator: int) -> Fraction:
    return Fraction(int(hundredths or 0), 100 * denominator)


def _sums(session: Session, meeting: Meeting) -> list[tuple]:
    """One round trip: the cast weight per denominator (question None), each question's and
    choice's weight per denominator, and the roll's size (denominator None)."""
    cast = (
        select(
            literal(None, Integer).label("question_id"),
            literal(None, String).label("choice"),
            MeetingVoter.share_denominator,
            func.sum(_hundredths()),
            func.count(),
        )
        .select_from(Ballot)
        .join(MeetingVoter, col(MeetingVoter.id) == Ballot.voter_id)
        .where(Ballot.meeting_id == meeting.id)
        .group_by(MeetingVoter.share_denominator)
    )
    answers = (
        select(
            BallotAnswer.question_id,
            BallotAnswer.choice,
            MeetingVoter.share_denominator,
            func.sum(_hundredths()),
            func.count(),
        )
        .select_from(BallotAnswer)
        .join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id)
        .join(MeetingVoter, col(MeetingVoter.id) == Ballot.voter_id)
        .where(Ballot.meeting_id == meeting.id)
        .group_by(BallotAnswer.question_id, BallotAnswer.choice, MeetingVoter.share_denominator)
    )
    roll = select(
        literal(None, Integer),
        literal(None, String),
        literal(None, Integer),
        literal(None, BigInteger),
        func.count(),
    ).where(MeetingVoter.meeting_id == meeting.id)
    return list(session.execute(union_all(cast, answers, roll)))


def _cast(session: Session, meeting: Meeting) -> tuple[Fraction, int, int]:
    """The weight of the roll entries that returned a ballot, how many ballots, the roll's size."""
    cast, ballots, roll = Fraction(0), 0, 0
    for question_id, _, denominator, hundredths, n in _sums(session, meeting):
        if question_id is None and denominator is None:
            roll = n
        elif question_id is None:
            cast += _as_weight(hundredths, denominator)
            ballots += n
    return cast, ballots, roll


def _live_count(session: Session, meeting: Meeting, rules: MeetingRules) -> Count:
    total = _total(meeting)
    cast, ballots, roll = Fraction(0), 0, 0
    sums: dict[tuple[int, Choice], Fraction] = {}
    for question_id, choice, denominator, hundredths, n in _sums(session, meeting):
        if question_id is None and denominator is None:
            roll = n
        elif question_id is None:
            cast += _as_weight(hundredths, denominator)
            ballots += n
        else:
            key = (question_id, Choice(choice))
            sums[key] = sums.get(key, Fraction(0)) + _as_weight(hundredths, denominator)
    quorum = rules.quorum_reached(cast=cast, total=total)
    questions = []
    agenda = select(MeetingQuestion.id, MeetingQuestion.kind).where(MeetingQuestion.meeting_id == meeting.id)
    for question_id, kind in session.exec(agenda.order_by(MeetingQuestion.position)):
        votes = [
            sums.get((question_id, choice), Fraction(0)) for choice in (Choice.yes, Choice.no, Choice.abstain)
        ]
        kind = DecisionKind(kind)
        outcome = rules.outcome(
            kind, votes_for=votes[0], cast=sum(votes, Fraction(0)), total=total, quorum=quorum
        )
        questions.append(QuestionCount(question_id, kind, *votes, outcome))
    return Count(
        total=total, cast=cast, quorum=quorum, questions=tuple(questions), ballots=ballots, roll=roll
    )


def reference_count(session: Session, meeting: Meeting, *, settings: Any) -> Count:
    """`counting.count` over the roll and every ballot's answers, row by row: what the database's
    sums must equal (the tests compare them)."""
    return count(
        total=_total(meeting),
        roll=_roll_entries(session, meeting),
        questions=[(q.id, DecisionKind(q.kind)) for q in questions_of(session, meeting)],
        answers=_answers(session, meeting),
        rules=MeetingRules.of(settings),
    )


def meeting_count(session: Session, meeting: Meeting, *, settings: Any) -> Count:
    """A closed meeting's stored results; before the close, the count as it stands."""
    if MeetingStatus(meeting.status) is not MeetingStatus.closed:
        return _live_count(session, meeting, MeetingRules.of(settings))
    roll = session.exec(select(func.count()).where(MeetingVoter.meeting_id == meeting.id)).one()
    return Count(
        total=_total(meeting),
        cast=from_text(meeting.votes_cast or "0"),
        quorum=bool(meeting.quorum_reached),
        questions=tuple(
            QuestionCount(
                q.id,
                DecisionKind(q.kind),
                from_text(q.votes_for or "0"),
                from_text(q.votes_against or "0"),
                from_text(q.votes_abstain or "0"),
                Outcome(q.outcome),
            )
            for q in questions_of(session, meeting)
        ),
        ballots=meeting.ballots,
        roll=roll,
    )


def close_meeting(
    session: Session, meeting: Meeting, *, actor: Actor | None, settings: Any, now: datetime
) -> Count:
    """Counts a meeting whose voting has ended (staff, an admin, or the job with `actor` None),
    stores the results, records each adopted decision, hands the building to a newly chosen
    company from the decided date (a refusal of the register is recorded as an event, the
    close goes on), and notifies every owner on the roll."""
    require_staff(session, actor, meeting, now, ORGANIZERS)
    meeting = lock_meeting(session, meeting)
    status = MeetingStatus(meeting.status)
    if status is MeetingStatus.closed:
        raise Conflict(f"the meeting was closed at {meeting.closed_at:%Y-%m-%d %H:%M} UTC")
    if status is not MeetingStatus.published:
        raise Conflict(f"the meeting is {status.value}; only a published meeting is counted")
    if now < meeting.voting_ends:
        raise Conflict(f"voting runs until {meeting.voting_ends:%Y-%m-%d %H:%M} UTC; close it after that")
    rules = MeetingRules.of(settings)
    result = _live_count(session, meeting, rules)
    questions = {q.id: q for q in questions_of(session, meeting)}
    day = city_day(now, settings.timezone)
    building = session.get(Building, meeting.building_id)
    adopted = 0
    for counted in result.questions:
        question = questions[counted.question_id]
        question.votes_for = as_text(counted.votes_for)
        question.votes_against = as_text(counted.votes_against)
        question.votes_abstain = as_text(counted.votes_abstain)
        question.outcome = counted.outcome
        session.add(question)
        if counted.outcome is not Outcome.adopted:
            continue
        adopted += 1
        effective = question.effective_from or day
        session.add(
            BuildingDecision(
                building_id=meeting.building_id,
                meeting_id=meeting.id,
                question_id=question.id,
                kind=question.kind,
                effective_from=effective,
                company_id=question.company_id,
                fee_minor=question.fee_minor,
                currency=question.currency,
                decided_at=now,
            )
        )
        if question.kind == DecisionKind.management_company and question.company_id is not None:
            try:
                with session.begin_nested():
                    registry.change_management(
                        session, building, company_id=question.company_id, valid_from=effective
                    )
                record_event(
                    session,
                    meeting,
                    None,
                    "company_changed",
                    f"question {question.position}: company {question.company_id} manages from {effective}",
                    now,
                )
            except DomainError as exc:
                record_event(
                    session,
                    meeting,
                    None,
                    "company_change_refused",
                    f"question {question.position}: the register refused company {question.company_id}"
                    f" from {effective}: {exc.detail}",
                    now,
                )
    meeting.status = MeetingStatus.closed
    meeting.closed_at = now
    meeting.closed_by = actor.user_id if actor else None
    meeting.votes_cast = as_text(result.cast)
    meeting.quorum_reached = result.quorum
    meeting.updated_at = now
    session.add(meeting)
    session.flush()
    turnout_text = f"{shown(result.turnout_percent)}%"
    notified = notices.notify_owners(
        session,
        meeting,
        kind="meeting_result",
        params_for=lambda language, text: {
            "title": text.title,
            "turnout": turnout_text,
            "adopted": adopted,
            "questions": len(result.questions),
        },
        dedupe=f"meeting:{meeting.id}:result",
        now=now,
    )
    record_event(
        session,
        meeting,
        actor,
        "closed",
        f"{result.ballots} ballots, {shown(result.cast)} of {shown(result.total)} m2 ({turnout_text});"
        f" quorum {'reached' if result.quorum else 'not reached'}; {adopted} of {len(result.questions)}"
        f" questions adopted; chain head {meeting.chain_head}; {notified} owners notified",
        now,
    )
    session.flush()
    return result


def due_for_close(session: Session, *, now: datetime) -> list[int]:
    query = select(Meeting.id).where(Meeting.status == MeetingStatus.published, Meeting.voting_ends <= now)
    return list(session.exec(query.order_by(Meeting.voting_ends, Meeting.id)))
