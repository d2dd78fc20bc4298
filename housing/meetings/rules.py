"""The jurisdiction's rule table for owners' meetings, and the pure arithmetic of a count.

One place per rule: every threshold, the quorum and the periods are read from settings
(`HOUSING_MEETINGS__*`, documented in docs/meetings.md) through `MeetingRules`, and the
count, the pages and the protocol ask this module. The arithmetic is exact: a vote's weight
is the owner's share (a fraction) times the premises' area (m2, two decimals), summed as
fractions; rounding to 0.01 happens only where a number is shown.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction


class DecisionKind(StrEnum):
    ordinary = "ordinary"
    management_fee = "management_fee"  # the building's own per-m2 management fee from a date
    management_company = "management_company"  # choosing or changing the company from a date
    capital_repair = "capital_repair"
    common_property = "common_property"
    reconstruction = "reconstruction"
    adjacent_land = "adjacent_land"
    loan = "loan"


class Choice(StrEnum):
    yes = "for"
    no = "against"
    abstain = "abstain"


class Outcome(StrEnum):
    adopted = "adopted"
    rejected = "rejected"
    no_quorum = "no_quorum"


@dataclass(frozen=True)
class Threshold:
    """`for` votes must exceed (strict) or reach `fraction` of all votes or of the votes cast."""

    of_all: bool
    fraction: Fraction
    strict: bool

    def met(self, votes_for: Fraction, *, cast: Fraction, total: Fraction) -> bool:
        base = total if self.of_all else cast
        if base <= 0:
            return False
        needed = self.fraction * base
        return votes_for > needed if self.strict else votes_for >= needed

    def describe(self) -> str:
        """As the rule table writes it: `all>1/2`, `cast>1/2`, `all>=2/3`."""
        return f"{'all' if self.of_all else 'cast'}{'>' if self.strict else '>='}{self.fraction}"


_RULE = re.compile(r"^(all|cast)(>=|>)(\d{1,4})/(\d{1,4})$")


def parse_threshold(text: str) -> Threshold:
    """`all>1/2` (more than half of all votes), `cast>1/2`, `all>=2/3`; a ValueError says why not."""
    match = _RULE.match(text.replace(" ", ""))
    if match is None:
        raise ValueError(f"{text!r} is not a threshold such as all>1/2, cast>1/2 or all>=2/3")
    base, op, numerator, denominator = match.groups()
    if int(denominator) == 0 or not 0 < Fraction(int(numerator), int(denominator)) <= 1:
        raise ValueError(f"{text!r}: the fraction must be above 0 and at most 1")
    return Threshold(
        of_all=base == "all", fraction=Fraction(int(numerator), int(denominator)), strict=op == ">"
    )


# Defaults (Russian Housing Code art. 46; Uzbekistan's housing code for the 80% decisions).
DEFAULT_THRESHOLDS: dict[DecisionKind, str] = {
    DecisionKind.ordinary: "cast>1/2",
    DecisionKind.management_fee: "cast>1/2",
    DecisionKind.management_company: "all>1/2",
    DecisionKind.capital_repair: "all>=2/3",
    DecisionKind.common_property: "all>=2/3",
    DecisionKind.reconstruction: "all>=2/3",
    DecisionKind.adjacent_land: "all>4/5",
    DecisionKind.loan: "all>4/5",
}


@dataclass(frozen=True)
class MeetingRules:
    quorum: Threshold  # of the votes cast against all votes: more than half by default
    thresholds: dict[DecisionKind, Threshold]
    initiative_share: Fraction  # owners initiating together hold at least this share of all votes
    notice: timedelta  # from publishing to the start of voting, at least
    shortest_vote: timedelta
    longest_vote: timedelta
    reminder_before: timedelta  # owners who have not voted are reminded this long before the end

    @classmethod
    def of(cls, settings) -> "MeetingRules":
        """The rules from `settings.meetings` (a `MeetingSettings`), already validated there."""
        group = settings.meetings
        return cls(
            quorum=parse_threshold(group.quorum),
            thresholds={kind: parse_threshold(group.thresholds[kind]) for kind in DecisionKind},
            initiative_share=Fraction(group.initiative_share),
            notice=timedelta(days=group.notice_days),
            shortest_vote=timedelta(days=group.shortest_vote_days),
            longest_vote=timedelta(days=group.longest_vote_days),
            reminder_before=timedelta(days=group.reminder_days),
        )

    def outcome(
        self, kind: DecisionKind, *, votes_for: Fraction, cast: Fraction, total: Fraction, quorum: bool
    ) -> Outcome:
        """A question's result: nothing is decided without a quorum."""
        if not quorum:
            return Outcome.no_quorum
        met = self.thresholds[kind].met(votes_for, cast=cast, total=total)
        return Outcome.adopted if met else Outcome.rejected

    def quorum_reached(self, *, cast: Fraction, total: Fraction) -> bool:
        return self.quorum.met(cast, cast=cast, total=total)


def weight(share_numerator: int, share_denominator: int, area_m2: Decimal) -> Fraction:
    """A vote's weight in m2, exactly: the owner's share of the premises' area."""
    return Fraction(share_numerator, share_denominator) * Fraction(area_m2)


def as_text(value: Fraction) -> str:
    """How an exact weight is stored: `p/q` (or `p` when whole)."""
    return str(value)


def from_text(text: str) -> Fraction:
    return Fraction(text)


def shown(value: Fraction, places: int = 2) -> Decimal:
    """A weight or a percentage rounded half up for display (0.01 m2, 0.01%)."""
    scaled = abs(value) * 10**places
    units, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:  # half up, on the exact value (no decimal rounding first)
        units += 1
    return Decimal(-units if value < 0 else units).scaleb(-places)


def percent(part: Fraction, whole: Fraction) -> Fraction:
    return Fraction(0) if whole == 0 else part * 100 / whole
