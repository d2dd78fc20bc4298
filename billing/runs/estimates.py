"""Months billed without a reading, and the recalculation that settles them once the meter reads again.

The rule of a month (`sensors.usage.estimation.estimate_month`) needs the months just before it
billed without a reading; this module reads them from the invoices, for a batch of
apartments (`estimated_rows`, the billing run) or one (`preview_meter_month`, the
one-meter path, which gives what the run would bill for that meter without writing).

Recalculation (DESIGN.md, "Missing readings"): when a month is metered again after months
billed by the average or the norm, its invoice carries one more line, source
"recalculation", naming the months it covers. For each of them the meter's consumption is
worked out now, with the readings since (a smart meter: interpolated across the silence;
a manual meter: the difference between the readings on both sides spread evenly over the
months it spans), priced at that month's tariff, and what was billed for it is taken off;
the line's amount is the sum, negative when the estimates were too high (a credit). Its
quantity is the meter's consumption over those months. A month whose consumption still
cannot be told (a meter replaced during the silence without its values) leaves the months
unsettled, and the run says so in a warning.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from billing.ledger.service import BILLED
from billing.models import Invoice, InvoiceLine, QuantitySource
from housing.db import among
from sensors.models import Meter
from sensors.usage.consumption import DEFAULT_TIMEZONE, DEFAULT_TOLERANCE, ConsumptionResult
from sensors.usage.estimation import MonthEstimate, estimate_month
from sensors.usage.series import meter_average, meter_consumption

LOOKBACK = 12  # months looked back for a row of estimated months: the average needs 3 metered
# months of the last 12, so a longer row has no average anyway
ESTIMATED = (QuantitySource.average.value, QuantitySource.norm.value)


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


def _bounds(period: date, timezone: str) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, local midnights."""
    zone = ZoneInfo(timezone)
    return datetime.combine(period, time(), zone), datetime.combine(month_end(period), time(), zone)


def months_before(period: date, months: int) -> date:
    index = period.year * 12 + period.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def month_end(period: date) -> date:
    return months_before(period, -1)


def estimated_rows(
    session: Session, pairs: Iterable[tuple[int, int]], period: date
) -> dict[tuple[int, int], list[EstimatedLine]]:
    """(apartment, service) -> the row of months just before `period` billed without a reading, newest first.

    Two queries: the month before's estimated lines of these apartments, then, for the
    pairs that have one, their lines of the last `LOOKBACK` months. A month without an
    invoice, or with any other line of the service, ends the row; so does a norm line with
    no meter (the apartment had none then).
    """
    wanted = set(pairs)
    if not wanted:
        return {}
    previous = months_before(period, 1)
    started = {
        (apartment_id, service_id)
        for apartment_id, service_id in session.exec(
            select(Invoice.apartment_id, InvoiceLine.service_id)
            .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
            .where(
                among(session, Invoice.apartment_id, sorted({a for a, _ in wanted})),
                Invoice.period == previous,
                col(Invoice.status).in_(BILLED),
                col(InvoiceLine.corrects_line_id).is_(None),
                col(InvoiceLine.quantity_source).in_(ESTIMATED),
            )
        )
    } & wanted
    if not started:
        return {}
    rows = session.exec(
        select(
            Invoice.apartment_id,
            InvoiceLine.service_id,
            Invoice.period,
            InvoiceLine.quantity_source,
            InvoiceLine.quantity,
            InvoiceLine.amount_minor,
            InvoiceLine.explanation,
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            among(session, Invoice.apartment_id, sorted({a for a, _ in started})),
            among(session, InvoiceLine.service_id, sorted({s for _, s in started})),
            Invoice.period >= months_before(period, LOOKBACK),
            Invoice.period < period,
            col(Invoice.status).in_(BILLED),
            col(InvoiceLine.corrects_line_id).is_(None),
        )
    ).all()
    by_month: dict[tuple[int, int], dict[date, EstimatedLine | None]] = defaultdict(dict)
    for apartment_id, service_id, month, source, quantity, amount_minor, explanation in rows:
        if (apartment_id, service_id) not in started:
            continue
        meter_id = (explanation or {}).get("meter_id")
        line = None
        if str(source) in ESTIMATED and meter_id is not None:
            line = EstimatedLine(month, str(source), Decimal(quantity), int(amount_minor), int(meter_id))
        by_month[(apartment_id, service_id)][month] = line
    found: dict[tuple[int, int], list[EstimatedLine]] = {}
    for key, months in by_month.items():
        row = []
        for back in range(1, LOOKBACK + 1):
            line = months.get(months_before(period, back))
            if line is None:
                break
            row.append(line)
        if row:
            found[key] = row
    return found


def averaged(row: Sequence[EstimatedLine]) -> list[date]:
    """The months of a row billed by the average (a norm month in the row does not end it)."""
    return [line.period for line in row if line.source == QuantitySource.average]


def recalculate(
    row: Sequence[EstimatedLine],
    actual: Callable[[date], ConsumptionResult],
    price: Callable[[Decimal, date], int],
) -> Recalculation | str:
    """The recalculation of a row of estimated months, or why it cannot be made yet.

    `actual(month)` is the meter's consumption of a month as the readings show it now;
    `price(quantity, month)` its amount at that month's per-unit tariff, in tiyin.
    """
    parts, total, difference = [], Decimal(0), 0
    for line in sorted(row, key=lambda x: x.period):
        result = actual(line.period)
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


@dataclass(frozen=True, slots=True)
class MeterMonthPreview:
    """A meter's month as the billing run would bill it, worked out for this meter alone."""

    meter_id: int
    period: date
    estimate: MonthEstimate
    recalculation_months: tuple[date, ...] = ()
    recalculation_quantity: Decimal | None = None


def preview_meter_month(
    session: Session,
    meter: Meter,
    service_id: int,
    period: date,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> MeterMonthPreview:
    """What the run would bill for `meter` (an apartment's) and `service_id` in `period`, one meter at a time.

    The same rule as the run (`estimate_month`, `recalculate`) on `meter_consumption`, the
    one-meter path, instead of the run's batched consumption.
    """
    assert meter.id is not None and meter.apartment_id is not None
    start_at, end_at = _bounds(period, timezone)
    result = meter_consumption(session, meter.id, start_at, end_at, timezone=timezone, tolerance=tolerance)
    row = estimated_rows(session, [(meter.apartment_id, service_id)], period).get(
        (meter.apartment_id, service_id), []
    )
    estimate = estimate_month(
        result,
        averaged_before=averaged(row),
        average=lambda: meter_average(session, meter.id, period, timezone=timezone, tolerance=tolerance),
    )
    if estimate.label not in ("metered", "metered_estimated") or not row:
        return MeterMonthPreview(meter.id, period, estimate)

    def actual(month: date) -> ConsumptionResult:
        lo, hi = _bounds(month, timezone)
        return meter_consumption(session, meter.id, lo, hi, timezone=timezone, tolerance=tolerance)

    settled = recalculate(row, actual, lambda quantity, month: 0)
    if isinstance(settled, str):
        return MeterMonthPreview(meter.id, period, estimate)
    return MeterMonthPreview(meter.id, period, estimate, settled.months, settled.quantity)
