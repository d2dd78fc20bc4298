"""Late-payment penalties: pure functions, no I/O.

The rules (DESIGN.md, "Domain rules"; the numbers are `housing.settings.BillingSettings`,
defaults shown): a month's invoice is due by the 15th of the next month, or later when it is
issued late: it leaves the resident at least the minimum time to pay after its issue date
(`HOUSING_BILLING__MIN_DAYS_TO_PAY`). From the day after, each day adds 0.1% of the amount
still overdue that day, rounded to whole tiyin half up, until the penalties of that month's
invoice reach 50% of its charge; the day that reaches the cap gets only what is left under it
(the cap is rounded down, so the total never passes 50%), and later days get nothing.
"""

from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from housing.settings import BillingSettings

_DEFAULTS = BillingSettings()  # the settings' defaults, for callers without settings
PENALTY_RATE = _DEFAULTS.penalty_rate  # of the overdue amount, per day
PENALTY_CAP = _DEFAULTS.penalty_cap  # of the month's charge, in total
DUE_DAY = _DEFAULTS.due_day


def due_date(
    period_month: date, issued_on: date | None = None, min_days_to_pay: int = 0, *, due_day: int = DUE_DAY
) -> date:
    """The day a month's invoice is due: `due_day` of the next month (any day of the month will
    do), or `min_days_to_pay` after `issued_on` when that is later."""
    if min_days_to_pay < 0:
        raise ValueError(f"the minimum time to pay cannot be negative ({min_days_to_pay} days)")
    if period_month.month == 12:
        due = date(period_month.year + 1, 1, due_day)
    else:
        due = date(period_month.year, period_month.month + 1, due_day)
    if issued_on is None:
        return due
    return max(due, issued_on + timedelta(days=min_days_to_pay))


def penalty_days(due: date, today: date) -> int:
    """Days overdue on `today`: none on the due date itself, one the day after."""
    return max(0, (today - due).days)


def penalty_for_day(
    overdue_minor: int,
    month_charge_minor: int,
    accrued_so_far_minor: int,
    rate: Decimal = PENALTY_RATE,
    cap: Decimal = PENALTY_CAP,
) -> int:
    """One day's penalty in tiyin on `overdue_minor`, given what that month's invoice has accrued."""
    if rate < 0 or cap < 0:
        raise ValueError(f"rate and cap cannot be negative (rate {rate}, cap {cap})")
    if overdue_minor <= 0 or month_charge_minor <= 0:
        return 0
    day = (Decimal(overdue_minor) * rate).to_integral_value(rounding=ROUND_HALF_UP)
    ceiling = (Decimal(month_charge_minor) * cap).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, min(int(day), int(ceiling) - accrued_so_far_minor))
