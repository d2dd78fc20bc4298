"""The monthly billing run on the Tashkent tariffs, under a frozen clock."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from billing.jobs import monthly_billing
from billing.ledger.service import balance, post_entry
from billing.models import (
    Basis,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    QuantitySource,
    Service,
)
from billing.runs.prepared import PreparedRun
from billing.runs.service import run_billing
from billing.tariffs.pricing import Tier
from billing.tariffs.service import create_service, create_tariff
from housing.clock import previous_month
from housing.errors import Invalid
from housing.incidents.models import IncidentSource
from housing.registry.service import management_history
from housing.settings import Settings
from sensors.models import MeterKind
from tests.conftest import FrozenClock
from tests.factories.billing import make_tariff
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.readings import add_readings
from tests.factories.scores import add_incident
from tests.factories.sensors import make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")
OCTOBER = date(2026, 10, 1)
TODAY = date(2026, 11, 1)


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


def company_management_fee(session: Session, company_id: int) -> None:
    """The company's own management fee from 1 January 2026: 2,000 UZS a m2 (the city's is 1,823)."""
    management = session.exec(select(Service).where(Service.code == "management")).one()
    make_tariff(
        session,
        management,
        basis=Basis.per_m2,
        valid_from=date(2026, 1, 1),
        price_minor=200_000,
        company_id=company_id,
    )


def test_650_kwh_month_is_one_line_of_51_million_tiyin(session: Session, tashkent_tariffs: None) -> None:
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


def test_management_fee_is_area_times_the_tariff_and_a_company_tariff_wins(
    session: Session, tashkent_tariffs: None
) -> None:
    city = make_apartment(session, area_m2=Decimal("54.30"))
    company = make_company(session)
    own = make_apartment(session, make_building(session, company), area_m2=Decimal("54.30"))
    company_management_fee(session, company.id)

    run_billing(session, period=OCTOBER, today=TODAY)

    city_line = lines_by_code(session, city.id)["management"]
    assert city_line.quantity_source == QuantitySource.area
    assert city_line.amount_minor == 9_898_890  # 54.30 m2 x 1,823 UZS
    assert lines_by_code(session, own.id)["management"].amount_minor == 10_860_000  # 54.30 x 2,000


def test_a_run_prepared_once_bills_batch_after_batch_with_each_companys_prices(
    db: Engine, tashkent_tariffs: None
) -> None:
    """What a worker keeps between its batches (tariffs, flat prices) keeps companies apart:
    the same area is priced at the city's tariff in one batch and the company's in the next."""
    with Session(db) as setup:
        city = make_apartment(setup, area_m2=Decimal("54.30")).id
        company = make_company(setup)
        building = make_building(setup, company)
        own = make_apartment(setup, building, area_m2=Decimal("54.30")).id
        city_again = make_apartment(setup, area_m2=Decimal("54.30")).id
        company_management_fee(setup, company.id)
        setup.commit()
    with Session(db) as session:
        prepared = PreparedRun(session, OCTOBER, "Asia/Tashkent")
        session.commit()

    for batch in ([city], [own], [city_again]):
        with Session(db) as session:
            summary = run_billing(
                session, period=OCTOBER, today=TODAY, apartment_ids=batch, prepared=prepared
            )
            session.commit()
        assert summary.issued == 1

    with Session(db) as session:
        fees = {a: lines_by_code(session, a)["management"].amount_minor for a in (city, own, city_again)}
    assert fees == {city: 9_898_890, own: 10_860_000, city_again: 9_898_890}
    with Session(db) as session, pytest.raises(ValueError, match="prepared for 2026-10"):
        run_billing(session, period=date(2026, 9, 1), today=TODAY, prepared=prepared)


def test_waste_is_billed_per_registered_person_and_not_for_an_empty_flat(
    session: Session, tashkent_tariffs: None
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


def test_cold_water_without_a_meter_is_billed_per_person(session: Session, tashkent_tariffs: None) -> None:
    apartment = make_apartment(session, registered_residents=2)

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, apartment.id)["cold_water"]
    assert line.basis == Basis.per_person
    assert line.quantity_source == QuantitySource.norm
    assert line.amount_minor == 9_803_920  # 2 x 49,019.60 UZS


def test_invoice_total_due_date_numbering_and_ledger_charge(
    session: Session, tashkent_tariffs: None, frozen_clock: FrozenClock
) -> None:
    frozen_clock.at(TODAY, 2)  # issued on the 1st: due on the 15th
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


def test_hot_water_incident_reduces_the_hot_water_line(session: Session, tashkent_tariffs: None) -> None:
    apartment = make_apartment(session, registered_residents=3)
    start = datetime(2026, 10, 10, 8, tzinfo=UTC)
    add_incident(
        session,
        building_id=apartment.building_id,
        origin="sensor:HWT-1",
        started=start,
        ended=start.replace(hour=18),
        deviation=Decimal(15),  # 45 C: 10 C beyond the allowed 5 C, for 10 hours
    )
    session.flush()

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, apartment.id)["hot_water"]
    assert line.amount_minor == 18_000_000  # 3 x 60,000 UZS
    assert line.deduction_minor == 600_000  # 10 h x 10/3 x 0.1%
    assert line.deduction_reason


def test_running_twice_issues_one_invoice_per_account(session: Session, tashkent_tariffs: None) -> None:
    apartment = make_apartment(session)

    first = run_billing(session, period=OCTOBER, today=TODAY)
    second = run_billing(session, period=OCTOBER, today=TODAY)

    assert (first.issued, second.issued) == (1, 0)
    assert count(session, Invoice) == 1
    assert count(session, LedgerEntry) == 1
    assert session.exec(select(Invoice.apartment_id)).one() == apartment.id


def test_a_dry_run_writes_nothing(session: Session, tashkent_tariffs: None) -> None:
    apartment = make_apartment(session)

    summary = run_billing(session, period=OCTOBER, today=TODAY, dry_run=True)

    assert summary.issued == 1
    [draft] = summary.invoices
    assert draft.apartment_id == apartment.id and draft.number == "2026-000001"
    assert draft.total_minor > 0
    assert count(session, Invoice) == count(session, InvoiceLine) == count(session, LedgerEntry) == 0


def test_a_month_not_yet_over_is_refused(session: Session, tashkent_tariffs: None) -> None:
    with pytest.raises(Invalid):
        run_billing(session, period=OCTOBER, today=date(2026, 10, 31))


def test_monthly_job_bills_the_previous_month_once(
    db: Engine, settings: Settings, tashkent_tariffs: None
) -> None:
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


def test_a_company_tariff_from_mid_month_is_priced_in_two_parts(
    session: Session, tashkent_tariffs: None
) -> None:
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
    session: Session, tashkent_tariffs: None
) -> None:
    apartment = make_apartment(session)
    lift = create_service(session, code="lift", name="Lift", unit="month")
    make_tariff(session, lift, basis=Basis.fixed, valid_from=date(2026, 10, 10), price_minor=1_000_000)

    summary = run_billing(session, period=OCTOBER, today=TODAY)

    assert (summary.issued, summary.failed) == (0, 1)
    assert f"apartment {apartment.id}: not billed" in summary.warnings[0]
    assert count(session, Invoice) == 0


def test_heating_is_the_buildings_heat_meter_shared_by_area(session: Session, tashkent_tariffs: None) -> None:
    building = make_building(session)
    shared = make_apartment(session, building, area_m2=Decimal(50))
    other = make_apartment(session, building, area_m2=Decimal(50))
    metered = make_apartment(session, building, area_m2=Decimal(50))
    common = make_meter(session, building=building, kind=MeterKind.heat)
    own = make_meter(session, apartment=metered, kind=MeterKind.heat)
    add_readings(
        session,
        common,
        [(midnight(OCTOBER), "100"), (midnight(date(2026, 10, 16)), "104"), (midnight(TODAY), "110")],
    )
    add_readings(session, own, [(midnight(OCTOBER), "7"), (midnight(TODAY), "9")])

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, shared.id)["heating"]
    assert line.quantity_source == QuantitySource.shared
    assert line.quantity == Decimal("3.333")  # a third of the building's 10 Gcal, shown to 3 decimals
    # 10/3 Gcal x 91,960 UZS = 30,653,333.33 tiyin, rounded once (3.333 x 9,196,000 would be 30,650,268)
    assert line.amount_minor == 30_653_333
    explanation = line.explanation
    assert explanation["label"] == "shared by area"
    assert (explanation["building_quantity"], explanation["total_area_m2"], explanation["area_m2"]) == (
        "10.000",
        "150.00",
        "50.00",
    )
    assert Decimal(explanation["share"]) == Decimal("0.333333333")
    assert lines_by_code(session, other.id)["heating"].amount_minor == 30_653_333
    own_line = lines_by_code(session, metered.id)["heating"]
    assert (own_line.quantity_source, own_line.quantity, own_line.amount_minor) == (
        QuantitySource.metered,
        Decimal(2),
        18_392_000,
    )


def test_hours_of_hot_water_below_40_c_are_billed_as_cold_water(
    session: Session, tashkent_tariffs: None
) -> None:
    apartment = make_apartment(session, registered_residents=3)
    cold_start = midnight(date(2026, 10, 10))
    lukewarm_start = datetime(2026, 10, 20, 8, tzinfo=UTC)
    for origin, start, hours, deviation in (
        ("sensor:HWT-1", cold_start, 93, 25),  # 93 h, an eighth of October's 744 hours, at 35 C
        ("sensor:HWT-2", lukewarm_start, 10, 15),  # 10 h at 45 C: 10 C beyond the allowed 5 C
    ):
        add_incident(
            session,
            building_id=apartment.building_id,
            origin=origin,
            started=start,
            ended=start + timedelta(hours=hours),
            deviation=Decimal(deviation),
        )
    session.flush()

    run_billing(session, period=OCTOBER, today=TODAY)

    line = lines_by_code(session, apartment.id)["hot_water"]
    # 3 x 60,000 UZS hot for 7/8 of the month, 3 x 49,019.60 UZS cold for 1/8:
    # 15,750,000 + 1,838,235 = 17,588,235 tiyin
    assert line.amount_minor == 17_588_235
    assert line.deduction_minor == 525_000  # 10 h x 10/3 x 0.1% of the hot part, 15,750,000
    assert "billed as cold water" in line.explanation["cold_water"]
    assert line.explanation["cold_water_hours"] == "93"


def test_planned_outages_count_only_beyond_the_allowed_interruption(
    session: Session, tashkent_tariffs: None
) -> None:
    within = make_apartment(session, registered_residents=3)
    beyond = make_apartment(session, registered_residents=3)
    for apartment, days in ((within, 10), (beyond, 15)):  # hot water may be off 14 days for maintenance
        add_incident(
            session,
            building_id=apartment.building_id,
            source=IncidentSource.planned,
            origin="staff",
            started=midnight(OCTOBER),
            ended=midnight(OCTOBER) + timedelta(days=days),
            deviation=Decimal(25),
        )
    session.flush()

    run_billing(session, period=OCTOBER, today=TODAY)

    untouched = lines_by_code(session, within.id)["hot_water"]
    assert (untouched.amount_minor, untouched.deduction_minor) == (18_000_000, 0)
    assert "cold_water" not in untouched.explanation
    # The 24 hours beyond 14 days, 1/31 of October, are billed as cold water:
    # (30 x 18,000,000 + 14,705,880) / 31 = 17,893,738.06
    assert lines_by_code(session, beyond.id)["hot_water"].amount_minor == 17_893_738


def test_an_account_in_credit_gets_its_invoice_paid_at_once(session: Session, tashkent_tariffs: None) -> None:
    # Each invoice is 44,854,770 tiyin: cold and hot water by the norm, waste and management.
    paid_ahead = make_apartment(session)
    part_ahead = make_apartment(session)
    owing = make_apartment(session)
    for apartment, amount in ((paid_ahead, 50_000_000), (part_ahead, 20_000_000)):
        post_entry(session, apartment_id=apartment.id, kind=LedgerKind.payment, amount_minor=-amount)

    run_billing(session, period=OCTOBER, today=TODAY)

    invoices = {
        i.apartment_id: i for i in session.exec(select(Invoice).execution_options(populate_existing=True))
    }
    assert {i.total_minor for i in invoices.values()} == {44_854_770}
    assert invoices[paid_ahead.id].status == InvoiceStatus.paid
    assert invoices[part_ahead.id].status == InvoiceStatus.partially_paid
    assert invoices[owing.id].status == InvoiceStatus.issued
    assert balance(session, paid_ahead.id) == 44_854_770 - 50_000_000
