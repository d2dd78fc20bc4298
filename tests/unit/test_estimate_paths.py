"""One table of cases, run through both paths that bill a meter's month: the same quantity and label.

The bulk path is the billing run (`billing.runs.service.run_billing`, the batched consumption of
`sensors.usage.bulk`); the one-meter path is `billing.runs.estimates.preview_meter_month` (the
consumption of `sensors.usage.series.meter_consumption`, as the consumption API computes it).
Both decide by `sensors.usage.estimation.estimate_month`. Each case plays months in order as the
monthly job would: the readings taken before the run's moment (02:00 on the 1st) are
stored, the one-meter path previews the month, then the run bills it, and the two must
agree on every month, recalculations included; the table says what they must both be.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from billing.models import Invoice, InvoiceLine, QuantitySource, Service
from billing.runs.estimates import preview_meter_month
from billing.runs.service import run_billing
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing.clock import month_end
from sensors.models import MeterKind, ReadingSource
from sensors.usage.consumption import DEFAULT_TOLERANCE
from tests.factories.core import make_apartment
from tests.factories.readings import add_readings, make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")
RATE = Decimal("0.02")  # m3 of hot water an hour: 14.4-14.88 m3 a month
STEP = timedelta(hours=12)
HISTORY_FROM = datetime(2026, 5, 1, tzinfo=TASHKENT)


def local(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=TASHKENT)


def month(m: int, year: int = 2026) -> date:
    return date(year, m, 1)


@dataclass(frozen=True)
class Case:
    name: str
    smart: bool
    silences: tuple[tuple[datetime, datetime], ...]  # [from, to): no reading taken
    months: tuple[date, ...]  # billed in this order
    labels: tuple[str, ...]  # each month's line, as both paths must say
    recalculates: tuple[str, ...] = ()  # the last month's recalculation line covers these
    hours: Decimal | None = None  # the last metered month's estimated hours
    manual_days: tuple[int, ...] = (20,)  # a manual meter's reading days, month by month in turn
    skipped: tuple[date, ...] = field(default=())  # manual: months without a reading


SEP, OCT, NOV, DEC, JAN = month(9), month(10), month(11), month(12), month(1, 2027)
AFTER_ONE = (SEP, OCT)
AFTER_THREE = (SEP, OCT, NOV, DEC)
AFTER_FOUR = (SEP, OCT, NOV, DEC, JAN)
BACK = timedelta(hours=12)  # a smart meter is back 12 hours into the month

CASES = [
    Case("smart, read all month", True, (), (SEP,), ("metered",)),
    Case(
        "smart, silent in the middle of the month",
        True,
        ((local(9, 10), local(9, 20)),),
        (SEP,),
        ("metered",),
    ),
    Case(
        "smart, silent at the end of the month, back 4 days later",
        True,
        ((local(9, 30, 12) + timedelta(minutes=1), local(10, 5)),),
        (SEP, OCT),
        ("metered_estimated", "metered_estimated"),
        hours=Decimal("96.0"),  # from 1 October to the reading of the 5th
    ),
    Case(
        "smart, last reading exactly the tolerance before the month's end",
        True,
        ((local(9, 30) + timedelta(minutes=1), local(10, 20)),),
        (SEP,),
        ("metered_estimated",),
        hours=Decimal("24.0"),
    ),
    Case(
        "smart, last reading just past the tolerance before the month's end",
        True,
        ((local(9, 29, 12) + timedelta(minutes=1), local(10, 20)),),
        (SEP,),
        ("average",),
    ),
    Case(
        "smart, silent from the start of the month, back after 1 month",
        True,
        ((local(9, 1) + timedelta(minutes=1), local(10, 1) + BACK),),
        AFTER_ONE,
        ("average", "metered_estimated"),
        recalculates=("2026-09",),
        hours=Decimal("12.0"),
    ),
    Case(
        "smart, back after 3 silent months",
        True,
        ((local(9, 1) + timedelta(minutes=1), local(12, 1) + BACK),),
        AFTER_THREE,
        ("average", "average", "average", "metered_estimated"),
        recalculates=("2026-09", "2026-10", "2026-11"),
        hours=Decimal("12.0"),
    ),
    Case(
        "smart, back after 4 silent months",
        True,
        ((local(9, 1) + timedelta(minutes=1), local(1, 1, year=2027) + BACK),),
        AFTER_FOUR,
        ("average", "average", "average", "norm", "metered_estimated"),
        recalculates=("2026-09", "2026-10", "2026-11", "2026-12"),
        hours=Decimal("12.0"),
    ),
    Case("manual, read every month", False, (), (SEP, OCT), ("metered", "metered")),
    Case(
        "manual, read at the window's start one month and its end the next",
        False,
        (),
        (SEP, OCT),
        ("metered", "metered"),
        manual_days=(15, 25),
    ),
    Case(
        "manual, back after 1 month without a reading",
        False,
        (),
        AFTER_ONE,
        ("average", "metered"),
        recalculates=("2026-09",),
        skipped=(SEP,),
    ),
    Case(
        "manual, back after 3 months without a reading",
        False,
        (),
        AFTER_THREE,
        ("average", "average", "average", "metered"),
        recalculates=("2026-09", "2026-10", "2026-11"),
        skipped=(SEP, OCT, NOV),
    ),
    Case(
        "manual, back after 4 months without a reading",
        False,
        (),
        AFTER_FOUR,
        ("average", "average", "average", "norm", "metered"),
        recalculates=("2026-09", "2026-10", "2026-11", "2026-12"),
        skipped=(SEP, OCT, NOV, DEC),
    ),
]


def smart_readings(case: Case, until: datetime) -> list[tuple[datetime, Decimal]]:
    """Every 12 hours from 1 May at RATE an hour, none inside the case's silences."""
    rows, at = [], HISTORY_FROM
    while at < until:
        if not any(lo <= at < hi for lo, hi in case.silences):
            hours = Decimal((at - HISTORY_FROM) // timedelta(hours=1))
            rows.append((at, 100 + RATE * hours))
        at += STEP
    return rows


def manual_readings(case: Case, until: datetime) -> list[tuple[datetime, Decimal]]:
    """One reading a month from May on the case's day(s), none in the skipped months."""
    rows, m, n = [], month(5), 0
    while True:
        day = case.manual_days[n % len(case.manual_days)]
        at = local(m.month, day, 19, year=m.year)
        if at >= until:
            return rows
        if m not in case.skipped:
            hours = Decimal((at - HISTORY_FROM) // timedelta(hours=1))
            rows.append((at, 100 + RATE * hours))
        n += 1
        m = month_end(m)


def run_moment(period: date) -> datetime:
    """02:00 on the first day after the month: when the monthly job bills it."""
    following = month_end(period)
    return datetime.combine(following, time(2), TASHKENT)


def lines_of(session: Session, apartment_id: int, period: date) -> list[InvoiceLine]:
    return list(
        session.exec(
            select(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .join(Service, Service.id == InvoiceLine.service_id)
            .where(
                Invoice.apartment_id == apartment_id, Invoice.period == period, Service.code == "hot_water"
            )
            .order_by(InvoiceLine.id)
        )
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_both_paths_bill_a_meters_month_alike(db: Engine, session: Session, case: Case) -> None:
    seed_tashkent_tariffs(db)
    apartment = make_apartment(session, registered_residents=2)
    meter = make_meter(
        session,
        apartment=apartment,
        kind=MeterKind.hot_water,
        smart=case.smart,
        installed_on=date(2026, 5, 1),
        initial_value=Decimal(100),
    )
    service = session.exec(select(Service).where(Service.code == "hot_water")).one()
    source = ReadingSource.mqtt if case.smart else ReadingSource.manual
    stored: set[datetime] = set()
    seen = []
    for period in case.months:
        moment = run_moment(period)
        rows = (smart_readings if case.smart else manual_readings)(case, moment)
        add_readings(session, meter, [r for r in rows if r[0] not in stored], source=source)
        stored.update(r[0] for r in rows)

        alone = preview_meter_month(session, meter, service.id, period, tolerance=DEFAULT_TOLERANCE)
        run_billing(session, period=period, today=moment.date())
        lines = lines_of(session, apartment.id, period)

        line = lines[0]
        settling = [x for x in lines if x.quantity_source == QuantitySource.recalculation]
        assert len(lines) == 1 + len(settling) and len(settling) <= 1
        bulk = (
            str(line.quantity_source),
            line.quantity if line.quantity_source != QuantitySource.norm else None,
            Decimal(line.explanation["estimated_hours"]) if "estimated_hours" in line.explanation else None,
            tuple(settling[0].explanation["months"]) if settling else (),
            settling[0].quantity if settling else None,
        )
        one = (
            alone.estimate.label,
            alone.estimate.quantity,
            alone.estimate.estimated_hours,
            tuple(f"{m:%Y-%m}" for m in alone.recalculation_months),
            alone.recalculation_quantity,
        )
        assert one == bulk, f"{case.name}, {period:%Y-%m}"
        seen.append(bulk)

    assert tuple(s[0] for s in seen) == case.labels
    assert seen[-1][3] == case.recalculates
    metered = [s for s in seen if s[0].startswith("metered")]
    if case.hours is not None:
        assert metered[-1][2] == case.hours
    else:
        assert all(s[2] is None for s in metered)
    for period, (label, quantity, *_) in zip(case.months, seen, strict=True):
        if label == "norm":
            assert quantity is None
        elif case.smart or label == "average":
            assert Decimal(14) <= quantity <= Decimal(15), (label, quantity)  # never an hour's rate
        else:  # the month's reading less the one before, shared by the months it spans
            readings = manual_readings(case, run_moment(period))
            (last_at, last), (before_at, before) = readings[-1], readings[-2]
            spans = (last_at.year - before_at.year) * 12 + last_at.month - before_at.month
            assert quantity == ((last - before) / spans).quantize(Decimal("0.001"))
    if case.recalculates:  # the meter's consumption over the settled months: RATE all along
        months = len(case.recalculates)
        assert Decimal(14) * months <= seen[-1][4] <= Decimal(15) * months
