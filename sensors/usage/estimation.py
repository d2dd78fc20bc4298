"""How a meter's month is billed, and what its line is called: pure, no I/O.

One rule for every path that says what a month of a meter comes to: the billing run
(`billing.runs.service`, many meters at once), the one-meter preview (`billing.runs.estimates`) and the
consumption API (`sensors.usage.endpoints`):

- "metered": the month's consumption from the readings (`sensors.usage.consumption`), both
  ends read or interpolated within a normal reporting interval (a manual meter: its
  reading of the month minus the previous one);
- "metered_estimated": from the readings, but an end was extended from readings on one
  side (within the tolerance) or interpolated across a silence longer than it; the line
  says by how many hours (`estimated_hours`);
- "average": no consumption for the month; the meter's average month (3 metered months
  of the last 12), for at most `MAX_AVERAGE_PERIODS` periods in a row;
- "norm": after that, or without an average: the norm per registered resident (the
  biller counts them, so the quantity here is None).

Which meters are smart and which are manual is `sensors.models.Meter.smart` (a meter that
reports over MQTT, the default; a meter registered or imported with smart = no is read
by hand); `sensors.usage.consumption` applies each one's rule.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

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


def reading_label(result: ConsumptionResult) -> ReadingLabel:
    """What the readings alone say of a period: metered, metered with an estimated end, or too few."""
    if result.how != "metered" or result.quantity is None:
        return "insufficient"
    return "metered" if result.estimated_hours is None else "metered_estimated"


def estimate_month(
    result: ConsumptionResult,
    *,
    averaged_before: Sequence[date],
    average: Callable[[], Decimal | None],
    max_periods: int = MAX_AVERAGE_PERIODS,
) -> MonthEstimate:
    """The month's quantity and label from its consumption.

    `averaged_before`: the months just before this one billed by the average, in the row of
    months billed without readings (a metered month ends the row). `average` is asked only
    when needed (it costs queries).
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
    averaged = average()
    if averaged is None:
        why = f"{reason}; no average: fewer than 3 metered months in the last 12"
        return MonthEstimate("norm", None, why=why)
    return MonthEstimate("average", averaged, why=reason, average_period=len(averaged_before) + 1)
