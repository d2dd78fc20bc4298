"""How a meter's month is billed: the metered -> average -> norm choice, pure, no I/O.

The one rule for every path that says what a month of a meter comes to: the billing run
(`billing.runs`, many meters at once), the one-meter preview (`billing.runs.estimates`) and
the consumption API (`sensors.usage.endpoints`). Each caller loads the facts first (the
month's consumption, the months billed by estimate just before, the meter's average, the
consumption of those months now) and hands them in. The rules and worked cases:
docs/billing-rules.md, "Metered, average or norm".
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from sensors.usage.consumption import ConsumptionResult

MAX_AVERAGE_PERIODS = 3  # periods in a row a meter without readings is billed by its average

Label = Literal["metered", "metered_estimated", "average", "norm"]
ReadingLabel = Literal["metered", "metered_estimated", "insufficient"]


@dataclass(frozen=True, slots=True)
class MonthEstimate:
    """What a meter's month is billed as. `quantity` is None for the norm (residents are the biller's)."""

    label: Label
    quantity: Decimal | None
    estimated_hours: Decimal | None = None
    why: str = ""
    average_period: int | None = None  # the month's place in a row billed by the average


@dataclass(frozen=True, slots=True)
class EstimatedLine:
    """A line of an earlier month billed without a reading."""

    period: date
    source: str  # average or norm
    quantity: Decimal
    amount_minor: int
    meter_id: int | None  # None: billed by the norm with no meter at all


@dataclass(frozen=True, slots=True)
class Recalculation:
    months: tuple[date, ...]
    quantity: Decimal  # the meter's consumption over those months
    amount_minor: int  # what they should have cost less what was billed for them
    parts: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class SharedMonth:
    """An apartment's share by area of its building's common meter: exact, rounded once when priced."""

    share: Fraction  # the apartment's area / all the building's apartments' area
    quantity: Fraction  # the building's consumption x share


def reading_label(result: ConsumptionResult) -> ReadingLabel:
    """What the readings alone say of a period: metered, metered with an estimated end, or too few."""
    if result.how != "metered" or result.quantity is None:
        return "insufficient"
    return "metered" if result.estimated_hours is None else "metered_estimated"


def averaged(row: Sequence[EstimatedLine]) -> list[date]:
    """The months of a row billed by the average (a norm month in the row does not end it)."""
    return [line.period for line in row if line.source == "average"]


def needs_average(
    result: ConsumptionResult, averaged_before: Sequence[date], max_periods: int = MAX_AVERAGE_PERIODS
) -> bool:
    """Whether `estimate_month` will look at the meter's average: load it beforehand only then."""
    return reading_label(result) == "insufficient" and len(averaged_before) < max_periods


def estimate_month(
    result: ConsumptionResult,
    *,
    averaged_before: Sequence[date],
    average: Decimal | None,
    max_periods: int = MAX_AVERAGE_PERIODS,
) -> MonthEstimate:
    """The month's quantity and label from its consumption: metered, else average, else norm.

    `averaged_before`: the months just before this one billed by the average, in the row of
    months billed without readings (a metered month ends the row). `average`: the meter's
    average month, None without one (fewer than 3 metered months in the last 12) or when
    `needs_average` said it is not needed.
    """
    label = reading_label(result)
    if label != "insufficient":
        return MonthEstimate(label, result.quantity, result.estimated_hours)
    reason = result.reason or "no reading"
    if len(averaged_before) >= max_periods:
        months = ", ".join(f"{m:%Y-%m}" for m in sorted(averaged_before))
        why = (
            f"{reason}; billed by the meter's average for {len(averaged_before)} periods in a row"
            f" already ({months}), at most {max_periods}, so by the norm per resident"
        )
        return MonthEstimate("norm", None, why=why)
    if average is None:
        why = f"{reason}; no average: fewer than 3 metered months in the last 12"
        return MonthEstimate("norm", None, why=why)
    return MonthEstimate("average", average, why=reason, average_period=len(averaged_before) + 1)


def recalculate(
    row: Sequence[EstimatedLine],
    actual: Mapping[date, ConsumptionResult],
    price: Callable[[Decimal, date], int],
) -> Recalculation | str:
    """The recalculation of a row of estimated months, or why it cannot be made yet.

    `actual[month]` is the meter's consumption of each month of the row as the readings
    show it now; `price(quantity, month)` its amount at that month's per-unit tariff, in tiyin.
    """
    parts, total, difference = [], Decimal(0), 0
    for line in sorted(row, key=lambda x: x.period):
        result = actual[line.period]
        if result.quantity is None:
            return f"{line.period:%Y-%m} still has no consumption ({result.reason})"
        amount = price(result.quantity, line.period)
        total += result.quantity
        difference += amount - line.amount_minor
        parts.append(
            {
                "period": f"{line.period:%Y-%m}",
                "billed_source": line.source,
                "billed_quantity": str(line.quantity),
                "billed_minor": line.amount_minor,
                "quantity": str(result.quantity),
                "amount_minor": amount,
                "estimated_hours": None if result.estimated_hours is None else str(result.estimated_hours),
            }
        )
    months = tuple(sorted(line.period for line in row))
    return Recalculation(months, total, difference, tuple(parts))


def share_by_area(building: ConsumptionResult, area_m2: Decimal, total_area: Decimal) -> SharedMonth | str:
    """An apartment's share of its building's common meter (heat without a meter of its own), or why none."""
    if building.quantity is None or total_area <= 0:
        return building.reason or "the building's apartments have no area"
    share = Fraction(area_m2) / Fraction(total_area)
    return SharedMonth(share, Fraction(building.quantity) * share)
