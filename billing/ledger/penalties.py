"""The late-payment penalty rule, pure (no I/O): when a month's invoice is due, from which day
it is late, and what a late day adds, up to which cap.

The numbers come from settings (`HOUSING_BILLING__DUE_DAY`, `__MIN_DAYS_TO_PAY`,
`__PENALTY_RATE`, `__PENALTY_CAP`; by default the 15th of the next month, 0.1% of the overdue
amount a day, at most 50% of the month's charge) through `billing.rules.BillingRules`. The
ledger (`billing.ledger.service.accrue_penalties`) works out each invoice's overdue amount and
asks this module for the rest. The worked cases are in docs/ledger.md.

Organisations pay their own rate (`__ORGANISATION_PENALTY_RATE`, `__ORGANISATION_PENALTY_CAP`;
0.4% a day, 50%): a premises is charged at it on a day when organisations hold more than half
of its ownership shares in force that day (`organisation_held`); exactly half, or no owner on
the register, is charged at the individuals' rate. `PenaltyRules.applying` picks the pair.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Self

from housing import clock
from housing.settings import BillingSettings


@dataclass(frozen=True, slots=True)
class PenaltyRules:
    rate: Decimal  # of the overdue amount, per day
    cap: Decimal  # of the month's charge, in total
    # Premises held by organisations (`organisation_held`); None: the same as everyone's.
    organisation_rate: Decimal | None = None
    organisation_cap: Decimal | None = None

    @classmethod
    def of(cls, billing: BillingSettings) -> Self:
        return cls(
            rate=billing.penalty_rate,
            cap=billing.penalty_cap,
            organisation_rate=billing.organisation_penalty_rate,
            organisation_cap=billing.organisation_penalty_cap,
        )

    def applying(self, organisation: bool) -> "PenaltyRules":
        """The rate and cap of premises held by organisations (`organisation` true) or not, as a
        single pair (`rate`, `cap`) that `for_day`, `percent` and `reference` read."""
        if not organisation:
            return PenaltyRules(rate=self.rate, cap=self.cap)
        return PenaltyRules(
            rate=self.rate if self.organisation_rate is None else self.organisation_rate,
            cap=self.cap if self.organisation_cap is None else self.organisation_cap,
        )

    def cap_percent(self) -> str:
        """The cap as people read it: 0.5 -> '50%'."""
        return _percent(self.cap)

    def percent(self) -> str:
        """The daily rate as people read it: 0.001 -> '0.1%'."""
        return _percent(self.rate)

    def for_day(self, overdue_minor: int, month_charge_minor: int, accrued_so_far_minor: int) -> int:
        """`penalty_for_day` at these rules' rate and cap."""
        return penalty_for_day(overdue_minor, month_charge_minor, accrued_so_far_minor, self.rate, self.cap)

    def reference(self, overdue_minor: int, day: date) -> str:
        """What a penalty entry says of itself in the ledger."""
        return f"{self.percent()} of {overdue_minor} tiyin overdue on {day.isoformat()}"


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


def organisation_held(shares: Iterable[tuple[int, int, bool]]) -> bool:
    """Whether organisations hold more than half of a premises' ownership shares in force.

    `shares`: each ownership in force on the day as (numerator, denominator, held by an
    organisation). Measured against the shares in force, not against 1, so an incomplete
    register still compares like with like; exactly half is not more than half.
    """
    total = organisations = Fraction(0)
    for numerator, denominator, is_organisation in shares:
        share = Fraction(numerator, denominator)
        total += share
        if is_organisation:
            organisations += share
    return total > 0 and organisations * 2 > total


_DEFAULTS = BillingSettings()  # the settings' defaults, for callers without settings
DEFAULT_PENALTIES = PenaltyRules.of(_DEFAULTS)
PENALTY_RATE = DEFAULT_PENALTIES.rate
PENALTY_CAP = DEFAULT_PENALTIES.cap
DUE_DAY = _DEFAULTS.due_day


def due_date(
    period_month: date, issued_on: date | None = None, min_days_to_pay: int = 0, *, due_day: int = DUE_DAY
) -> date:
    """The day a month's invoice is due: `due_day` of the next month (any day of the month will
    do), or `min_days_to_pay` after `issued_on` when that is later."""
    if min_days_to_pay < 0:
        raise ValueError(f"the minimum time to pay cannot be negative ({min_days_to_pay} days)")
    due = clock.add_months(clock.month_of(period_month), 1).replace(day=due_day)
    if issued_on is None:
        return due
    return max(due, issued_on + timedelta(days=min_days_to_pay))


def penalty_days(due: date, today: date) -> int:
    """Days overdue on `today`: none on the due date itself, one the day after."""
    return max(0, (today - due).days)


def is_late(due: date, day: date) -> bool:
    """Whether `day` is charged a penalty: from the day after the due date."""
    return penalty_days(due, day) > 0


def penalty_for_day(
    overdue_minor: int,
    month_charge_minor: int,
    accrued_so_far_minor: int,
    rate: Decimal = PENALTY_RATE,
    cap: Decimal = PENALTY_CAP,
) -> int:
    """One day's penalty in tiyin on `overdue_minor`, given what that month's invoice has accrued.

    The day's rate is rounded to whole tiyin half up; the cap is rounded down, so the total
    never passes it: the day that reaches the cap gets only what is left under it.
    """
    if rate < 0 or cap < 0:
        raise ValueError(f"rate and cap cannot be negative (rate {rate}, cap {cap})")
    if overdue_minor <= 0 or month_charge_minor <= 0:
        return 0
    day = (Decimal(overdue_minor) * rate).to_integral_value(rounding=ROUND_HALF_UP)
    ceiling = (Decimal(month_charge_minor) * cap).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, min(int(day), int(ceiling) - accrued_so_far_minor))
