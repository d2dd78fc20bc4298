"""Months billed without a reading, read from the invoices, and the one-meter preview.

`estimated_rows` reads, for a batch of apartments (the billing run) or one, the months just
before a period billed by the average or the norm; `preview_meter_month` loads one meter's
facts and hands them to the pure choice (`sensors.usage.estimation`), giving what the run
would bill for that meter without writing. The rules: docs/billing-rules.md.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from billing.ledger.service import BILLED
from billing.models import Invoice, InvoiceLine, QuantitySource
from billing.runs.prepared import month_bounds
from housing.clock import add_months
from housing.db import among
from sensors.models import Meter
from sensors.usage.consumption import DEFAULT_TIMEZONE, DEFAULT_TOLERANCE, ConsumptionResult
from sensors.usage.estimation import (
    EstimatedLine,
    MonthEstimate,
    averaged,
    estimate_month,
    needs_average,
    recalculate,
)
from sensors.usage.series import meter_average, meter_consumption

LOOKBACK = 12  # months looked back for a row of estimated months: the average needs 3 metered
# months of the last 12, so a longer row has no average anyway
ESTIMATED = (QuantitySource.average.value, QuantitySource.norm.value)


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
    previous = add_months(period, -1)
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
            Invoice.period >= add_months(period, -LOOKBACK),
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
            line = months.get(add_months(period, -back))
            if line is None:
                break
            row.append(line)
        if row:
            found[key] = row
    return found


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

    The facts are loaded with `meter_consumption`, the one-meter path, instead of the run's
    batched consumption; the choice is the same (`estimate_month`, `recalculate`).
    """
    assert meter.id is not None and meter.apartment_id is not None
    _, _, start_at, end_at = month_bounds(period, timezone)
    result = meter_consumption(session, meter.id, start_at, end_at, timezone=timezone, tolerance=tolerance)
    row = estimated_rows(session, [(meter.apartment_id, service_id)], period).get(
        (meter.apartment_id, service_id), []
    )
    before = averaged(row)
    average = None
    if needs_average(result, before):
        average = meter_average(session, meter.id, period, timezone=timezone, tolerance=tolerance)
    estimate = estimate_month(result, averaged_before=before, average=average)
    if estimate.label not in ("metered", "metered_estimated") or not row:
        return MeterMonthPreview(meter.id, period, estimate)
    actual = months_consumption(session, meter.id, row, timezone=timezone, tolerance=tolerance)
    settled = recalculate(row, actual, lambda quantity, month: 0)
    if isinstance(settled, str):
        return MeterMonthPreview(meter.id, period, estimate)
    return MeterMonthPreview(meter.id, period, estimate, settled.months, settled.quantity)


def months_consumption(
    session: Session,
    meter_id: int,
    row: Iterable[EstimatedLine],
    *,
    timezone: str = DEFAULT_TIMEZONE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> dict[date, ConsumptionResult]:
    """The meter's consumption in each month of a row billed by estimate, as the readings show it now.

    The facts a recalculation (`sensors.usage.estimation.recalculate`) is worked out from.
    """
    found = {}
    for line in row:
        _, _, lo, hi = month_bounds(line.period, timezone)
        found[line.period] = meter_consumption(
            session, meter_id, lo, hi, timezone=timezone, tolerance=tolerance
        )
    return found
