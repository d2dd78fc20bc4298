"""The billing run over months without readings: the average, the norm and the recalculation.

The run's side of `sensors.usage.estimation` (the pure choice, tested on plain values in
tests/unit/test_estimation.py), on the Tashkent tariffs; docs/billing-rules.md has the cases.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Session, select

from billing.ledger.service import balance
from billing.models import Invoice, InvoiceLine, LedgerEntry, LedgerKind, QuantitySource, Service
from billing.runs.service import run_billing
from housing.clock import month_end
from housing.registry.models import Apartment
from sensors.models import Meter, MeterKind, ReadingSource
from tests.factories.core import make_apartment
from tests.factories.readings import add_readings
from tests.factories.sensors import make_meter
from tests.unit.test_billing_run import OCTOBER, TODAY, lines_by_code, midnight


def test_a_month_without_readings_is_billed_by_the_average_and_says_so(
    session: Session, tashkent_tariffs: None
) -> None:
    apartment = make_apartment(session)
    meter = make_meter(session, apartment=apartment, kind=MeterKind.electricity)
    # May to August metered at 200 kWh a month; nothing read after 1 September.
    months = [date(2026, m, 1) for m in range(5, 10)]
    add_readings(session, meter, [(midnight(day), str(1000 + 200 * n)) for n, day in enumerate(months)])
    add_readings(
        session,
        meter,
        [(midnight(date(2026, m, 16)), str(1100 + 200 * n)) for n, m in enumerate(range(5, 9))],
    )

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, apartment.id)["electricity"]
    assert line.quantity_source == QuantitySource.average
    assert line.explanation["label"] == "average"
    assert line.quantity == Decimal("200")
    assert line.amount_minor == 12_000_000  # 200 kWh x 600 UZS


def bill_months(session: Session, *months: date) -> None:
    for month in months:
        run_billing(session, period=month, today=month_end(month))


def hot_water_read_until(session: Session, first: int, last: int) -> tuple[Apartment, Meter]:
    """A flat of 3 residents whose hot-water meter read 10 m3 a month from 100, months `first` to `last`."""
    apartment = make_apartment(session, registered_residents=3)
    meter = make_meter(session, apartment=apartment, kind=MeterKind.hot_water)
    add_readings(session, meter, ten_a_month(first, last, start=100))
    return apartment, meter


def ten_a_month(first: int, last: int, start: int) -> list[tuple[datetime, str]]:
    """10 m3 a month from `start`, read on the 1st and the 16th of months `first` to `last` of 2026."""
    return [
        (midnight(date(2026, m, d)), str(start + 10 * (m - first) + (5 if d == 16 else 0)))
        for m in range(first, last + 1)
        for d in (1, 16)
    ]


def line_of(
    session: Session, apartment_id: int, period: date, code: str, recalculation: bool = False
) -> InvoiceLine:
    """The month's line of the service; with `recalculation`, the line settling earlier months."""
    settles = InvoiceLine.quantity_source == QuantitySource.recalculation
    return session.exec(
        select(InvoiceLine)
        .join(Service, Service.id == InvoiceLine.service_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.apartment_id == apartment_id, Invoice.period == period, Service.code == code)
        .where(settles if recalculation else ~settles)
    ).one()


def test_the_average_bills_3_months_in_a_row_then_the_norm_per_resident(
    session: Session, tashkent_tariffs: None
) -> None:
    # 10 m3 a month May to July, read on the 1st and the 16th; silent after 16 August.
    apartment, _ = hot_water_read_until(session, 5, 8)
    months = [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]

    bill_months(session, *months)

    lines = [line_of(session, apartment.id, month, "hot_water") for month in months]
    assert [(line.quantity_source, line.amount_minor) for line in lines] == [
        (QuantitySource.average, 9_000_000),  # 10 m3 x 9,000 UZS
        (QuantitySource.average, 9_000_000),
        (QuantitySource.average, 9_000_000),
        (QuantitySource.norm, 18_000_000),  # 3 residents x 60,000 UZS
        (QuantitySource.norm, 18_000_000),  # and so on until the meter reads again
    ]
    assert [line.explanation.get("average_period") for line in lines[:3]] == [1, 2, 3]
    assert "average for 3 periods in a row already (2026-09, 2026-10, 2026-11)" in lines[3].explanation["why"]
    assert "average for 3 periods in a row" in lines[4].explanation["why"]


def test_a_metered_month_starts_the_count_of_averaged_months_again(
    session: Session, tashkent_tariffs: None
) -> None:
    apartment, meter = hot_water_read_until(session, 3, 6)
    # Silent from 16 June: July to September go by the average (the third month is the last).
    bill_months(session, date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1))
    # Read again from 1 October to 1 December: October and November metered; then silent, and
    # 1 January is too far from the last reading to extend it to.
    add_readings(session, meter, [*ten_a_month(10, 11, start=200), (midnight(date(2026, 12, 1)), "220")])
    bill_months(session, date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1))

    months = [date(2026, m, 1) for m in range(7, 13)]
    lines = [line_of(session, apartment.id, month, "hot_water") for month in months]
    assert [line.quantity_source for line in lines] == [
        QuantitySource.average,  # July
        QuantitySource.average,
        QuantitySource.average,  # September: the third in a row
        QuantitySource.metered,  # October
        QuantitySource.metered,
        QuantitySource.average,  # December: silent again, the first month of a new row
    ]
    assert lines[-1].explanation["average_period"] == 1
    # October settles July to September: from 135 m3 on 16 June to 200 on 1 October is 65 m3
    # in 107 days, 92 of them in July to September (55.888 m3 at 9,000 UZS), against 3 x 10 m3
    # billed by the average.
    settling = line_of(session, apartment.id, date(2026, 10, 1), "hot_water", recalculation=True)
    assert settling.explanation["months"] == ["2026-07", "2026-08", "2026-09"]
    assert settling.quantity == Decimal("55.888")
    assert [p["quantity"] for p in settling.explanation["parts"]] == ["18.832", "18.832", "18.224"]
    assert settling.amount_minor == 16_948_800 * 2 + 16_401_600 - 3 * 9_000_000


def test_a_recalculation_that_credits_more_than_the_month_costs_leaves_the_account_in_credit(
    session: Session, tashkent_tariffs: None
) -> None:
    apartment = make_apartment(session, registered_residents=0)
    meter = make_meter(
        session, apartment=apartment, kind=MeterKind.hot_water, smart=False, initial_value=Decimal(0)
    )
    # Read by hand on the 20th: 30 m3 a month May to August; nothing in September or October;
    # in November the register shows only 3 m3 more than in August (the flat stood empty).
    august = 30 * 4
    add_readings(
        session,
        meter,
        [(midnight(date(2026, m, 20)), str(30 * (m - 4))) for m in range(5, 9)],
        source=ReadingSource.manual,
    )
    bill_months(session, date(2026, 9, 1), date(2026, 10, 1))
    add_readings(
        session, meter, [(midnight(date(2026, 11, 20)), str(august + 3))], source=ReadingSource.manual
    )
    bill_months(session, date(2026, 11, 1))

    november = line_of(session, apartment.id, date(2026, 11, 1), "hot_water")
    settling = line_of(session, apartment.id, date(2026, 11, 1), "hot_water", recalculation=True)
    assert (november.quantity_source, november.quantity, november.explanation["covers"]) == (
        QuantitySource.metered,
        Decimal(1),  # 3 m3 over the 3 months since August's reading
        3,
    )
    assert settling.explanation["months"] == ["2026-09", "2026-10"]
    assert settling.quantity == Decimal(2)
    assert settling.amount_minor == 2 * 900_000 - 2 * 30 * 900_000  # a credit of 522,000 UZS
    invoice = session.exec(
        select(Invoice).where(Invoice.apartment_id == apartment.id, Invoice.period == date(2026, 11, 1))
    ).one()
    assert invoice.total_minor < 0
    entry = session.exec(select(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id)).one()
    assert (entry.kind, entry.amount_minor) == (LedgerKind.adjustment, invoice.total_minor)
    earlier = sum(
        i.total_minor for i in session.exec(select(Invoice).where(Invoice.apartment_id == apartment.id)).all()
    )
    assert balance(session, apartment.id) == earlier
