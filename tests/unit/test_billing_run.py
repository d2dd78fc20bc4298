"""The monthly billing run on the Tashkent tariffs, under a frozen clock."""

import os
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from billing.jobs import monthly_billing, previous_month
from billing.ledger import balance
from billing.models import Basis, Invoice, InvoiceLine, InvoiceStatus, LedgerEntry, QuantitySource, Service
from billing.pricing import Tier
from billing.runs import run_billing
from billing.seeding import seed_tashkent_tariffs
from billing.service import create_service, create_tariff
from housing.errors import Invalid
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.registry.service import management_history
from housing.settings import Settings
from sensors.models import MeterKind
from tests.factories import make_apartment, make_building, make_company
from tests.reading_factories import add_readings
from tests.sensor_factories import make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")
OCTOBER = date(2026, 10, 1)
TODAY = date(2026, 11, 1)


@pytest.fixture
def tariffs(db: Engine) -> None:
    """Tashkent's services and tariffs, committed before the test's session starts."""
    seed_tashkent_tariffs(db)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), TASHKENT)


def lines_by_code(session: Session, apartment_id: int) -> dict[str, InvoiceLine]:
    rows = session.exec(
        select(Service.code, InvoiceLine)
        .join(InvoiceLine, InvoiceLine.service_id == Service.id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.apartment_id == apartment_id)
    ).all()
    return {code: line for code, line in rows}


def count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_650_kwh_month_is_one_line_of_51_million_tiyin(session: Session, tariffs: None) -> None:
    apartment = make_apartment(session)
    meter = make_meter(session, apartment=apartment, kind=MeterKind.electricity)
    add_readings(
        session,
        meter,
        [
            (midnight(date(2026, 10, 1)), "1000"),
            (midnight(date(2026, 10, 16)), "1300"),
            (midnight(TODAY), "1650"),
        ],
    )

    summary = run_billing(session, period=OCTOBER, today=TODAY)

    assert summary.issued == 1
    line = lines_by_code(session, apartment.id)["electricity"]
    assert line.quantity == Decimal("650")
    assert line.quantity_source == QuantitySource.metered
    assert line.amount_minor == 51_000_000  # 200 x 600 + 300 x 800 + 150 x 1,000 UZS
    assert line.deduction_minor == 0


def test_a_month_without_readings_is_billed_by_the_average_and_says_so(
    session: Session, tariffs: None
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


def test_management_fee_is_area_times_the_tariff_and_a_company_tariff_wins(
    session: Session, tariffs: None
) -> None:
    city = make_apartment(session, area_m2=Decimal("54.30"))
    company = make_company(session)
    own = make_apartment(session, make_building(session, company), area_m2=Decimal("54.30"))
    management = session.exec(select(Service).where(Service.code == "management")).one()
    create_tariff(
        session,
        service_id=management.id,
        basis=Basis.per_m2,
        valid_from=date(2026, 1, 1),
        tiers=[Tier(up_to=None, price_minor=Decimal(200_000))],
        company_id=company.id,
    )

    run_billing(session, period=OCTOBER, today=TODAY)

    city_line = lines_by_code(session, city.id)["management"]
    assert city_line.quantity_source == QuantitySource.area
    assert city_line.amount_minor == 9_898_890  # 54.30 m2 x 1,823 UZS
    assert lines_by_code(session, own.id)["management"].amount_minor == 10_860_000  # 54.30 x 2,000


def test_waste_is_billed_per_registered_person_and_not_for_an_empty_flat(
    session: Session, tariffs: None
) -> None:
    three = make_apartment(session, registered_residents=3)
    empty = make_apartment(session, registered_residents=0)

    run_billing(session, period=OCTOBER, today=TODAY)

    waste = lines_by_code(session, three.id)["waste"]
    assert (waste.quantity, waste.quantity_source, waste.amount_minor) == (
        3,
        QuantitySource.residents,
        2_250_000,
    )
    assert "waste" not in lines_by_code(session, empty.id)


def test_cold_water_without_a_meter_is_billed_per_person(session: Session, tariffs: None) -> None:
    apartment = make_apartment(session, registered_residents=2)

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, apartment.id)["cold_water"]
    assert line.basis == Basis.per_person
    assert line.quantity_source == QuantitySource.norm
    assert line.amount_minor == 9_803_920  # 2 x 49,019.60 UZS


def test_invoice_total_due_date_numbering_and_ledger_charge(session: Session, tariffs: None) -> None:
    building = make_building(session)
    first = make_apartment(session, building)
    second = make_apartment(session, building)

    run_billing(session, period=OCTOBER, today=TODAY)

    invoices = session.exec(select(Invoice).order_by(Invoice.apartment_id)).all()
    assert [i.number for i in invoices] == ["2026-000001", "2026-000002"]
    invoice = invoices[0]
    assert invoice.apartment_id == first.id and invoices[1].apartment_id == second.id
    assert invoice.status == InvoiceStatus.issued
    assert invoice.due_date == date(2026, 11, 15)
    lines = lines_by_code(session, first.id).values()
    assert invoice.total_minor == sum(line.amount_minor - line.deduction_minor for line in lines) > 0
    assert balance(session, first.id) == invoice.total_minor
    charge = session.exec(select(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id)).one()
    assert charge.dedupe_key == f"charge:{invoice.id}"


def test_hot_water_incident_reduces_the_hot_water_line(session: Session, tariffs: None) -> None:
    apartment = make_apartment(session, registered_residents=3)
    start = datetime(2026, 10, 10, 8, tzinfo=UTC)
    session.add(
        ServiceIncident(
            building_id=apartment.building_id,
            utility=Utility.hot_water,
            source=IncidentSource.sensor,
            origin="sensor:HWT-1",
            started_at=start,
            ended_at=start.replace(hour=18),
            deviation=Decimal(15),  # 45 C: 10 C beyond the allowed 5 C, for 10 hours
        )
    )
    session.flush()

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, apartment.id)["hot_water"]
    assert line.amount_minor == 18_000_000  # 3 x 60,000 UZS
    assert line.deduction_minor == 600_000  # 10 h x 10/3 x 0.1%
    assert line.deduction_reason


def test_running_twice_issues_one_invoice_per_account(session: Session, tariffs: None) -> None:
    apartment = make_apartment(session)

    first = run_billing(session, period=OCTOBER, today=TODAY)
    second = run_billing(session, period=OCTOBER, today=TODAY)

    assert (first.issued, second.issued) == (1, 0)
    assert count(session, Invoice) == 1
    assert count(session, LedgerEntry) == 1
    assert session.exec(select(Invoice.apartment_id)).one() == apartment.id


def test_a_dry_run_writes_nothing(session: Session, tariffs: None) -> None:
    apartment = make_apartment(session)

    summary = run_billing(session, period=OCTOBER, today=TODAY, dry_run=True)

    assert summary.issued == 1
    [draft] = summary.invoices
    assert draft.apartment_id == apartment.id and draft.number == "2026-000001"
    assert draft.total_minor > 0
    assert count(session, Invoice) == count(session, InvoiceLine) == count(session, LedgerEntry) == 0


def test_a_month_not_yet_over_is_refused(session: Session, tariffs: None) -> None:
    with pytest.raises(Invalid):
        run_billing(session, period=OCTOBER, today=date(2026, 10, 31))


def test_monthly_job_bills_the_previous_month_once(db: Engine, settings: Settings, tariffs: None) -> None:
    with Session(db) as session:
        make_apartment(session)
        make_apartment(session)
        session.commit()

    first = monthly_billing(db, settings, today=TODAY)
    second = monthly_billing(db, settings, today=TODAY)

    assert "2026-10: issued 2 invoices" in first
    assert "issued 0 invoices" in second
    with Session(db) as session:
        assert session.exec(select(Invoice.period).distinct()).all() == [OCTOBER]
        assert count(session, Invoice) == 2


def test_previous_month() -> None:
    assert previous_month(date(2027, 1, 1)) == date(2026, 12, 1)
    assert previous_month(date(2026, 11, 30)) == OCTOBER


def test_a_company_tariff_from_mid_month_is_priced_in_two_parts(session: Session, tariffs: None) -> None:
    apartment = make_apartment(session, registered_residents=3)
    waste = session.exec(select(Service).where(Service.code == "waste")).one()
    create_tariff(  # from 10 October 2026; the city-wide 7,500 UZS fills 1-9 October
        session,
        service_id=waste.id,
        basis=Basis.per_person,
        valid_from=date(2026, 10, 10),
        tiers=[Tier(up_to=None, price_minor=Decimal(800_000))],
        company_id=management_history(session, apartment.building_id)[-1].company_id,
    )

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, apartment.id)["waste"]
    assert line.amount_minor == round(3 * (750_000 * 9 + 800_000 * 22) / 31)


def test_a_service_whose_only_tariff_starts_mid_month_holds_the_invoice_back(
    session: Session, tariffs: None
) -> None:
    apartment = make_apartment(session)
    lift = create_service(session, code="lift", name="Lift", unit="month")
    create_tariff(
        session,
        service_id=lift.id,
        basis=Basis.fixed,
        valid_from=date(2026, 10, 10),
        tiers=[Tier(up_to=None, price_minor=Decimal(1_000_000))],
    )

    summary = run_billing(session, period=OCTOBER, today=TODAY)

    assert (summary.issued, summary.failed) == (0, 1)
    assert f"apartment {apartment.id}: not billed" in summary.warnings[0]
    assert count(session, Invoice) == 0


@pytest.mark.skipif(
    "postgresql" not in (os.environ.get("HOUSING_TEST_DATABASE_URL") or ""),
    reason="the advisory lock exists on PostgreSQL only",
)
def test_a_second_concurrent_run_is_locked_out(db: Engine, tariffs: None) -> None:
    with Session(db) as setup:
        make_apartment(setup)
        setup.commit()
    with Session(db) as first, Session(db) as second:
        assert run_billing(first, period=OCTOBER, today=TODAY).issued == 1  # holds the lock, not committed
        blocked = run_billing(second, period=OCTOBER, today=TODAY)
        assert blocked.locked_out and blocked.issued == 0
        first.commit()
        assert run_billing(second, period=OCTOBER, today=TODAY).issued == 0
