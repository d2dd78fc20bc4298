"""The billing run prices the management service at the building's decided fee: building
decision > the company's own tariff > the city's (docs/tariffs.md, "A building's decided fee")."""

from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from billing.models import Basis, Invoice, InvoiceLine, Service, Tariff
from billing.runs.service import run_billing
from housing.meetings.rules import DecisionKind
from housing.registry.service import change_management
from tests.factories.billing import make_tariff
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.decisions import make_decision

SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)
TODAY = date(2026, 11, 1)
AREA = Decimal("54.30")


def management_line(session: Session, apartment_id: int, period: date = OCTOBER) -> InvoiceLine:
    return session.exec(
        select(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Service, Service.id == InvoiceLine.service_id)
        .where(Invoice.apartment_id == apartment_id, Invoice.period == period, Service.code == "management")
    ).one()


def company_fee(session: Session, company_id: int, price_minor: int = 200_000) -> Tariff:
    """The company's own management fee from 1 January 2026 (2,000 UZS a m2; the city's is 1,823)."""
    management = session.exec(select(Service).where(Service.code == "management")).one()
    return make_tariff(
        session,
        management,
        basis=Basis.per_m2,
        valid_from=date(2026, 1, 1),
        price_minor=price_minor,
        company_id=company_id,
    )


def test_a_decided_fee_wins_over_the_companys_and_the_citys(session: Session, tashkent_tariffs: None) -> None:
    company = make_company(session)
    company_fee(session, company.id)
    decided = make_building(session, company)
    other = make_building(session, company)
    flat = make_apartment(session, decided, area_m2=AREA)
    neighbour = make_apartment(session, other, area_m2=AREA)
    elsewhere = make_apartment(session, area_m2=AREA)  # another company, the city's price
    decision = make_decision(
        session, decided, kind=DecisionKind.management_fee, effective_from=OCTOBER, fee_minor=250_000
    )

    run_billing(session, period=OCTOBER, today=TODAY)

    line = management_line(session, flat.id)
    assert line.amount_minor == 13_575_000  # 54.30 m2 x 2,500 UZS
    assert line.tariff_id is None
    assert line.explanation["building_fee"] == [
        {"decision_id": decision.id, "price_minor": 250_000, "valid_from": "2026-10-01", "valid_until": None}
    ]
    assert management_line(session, neighbour.id).amount_minor == 10_860_000  # the company's 2,000
    assert management_line(session, elsewhere.id).amount_minor == 9_898_890  # the city's 1,823


def test_a_fee_from_mid_month_prices_each_part_of_the_month_at_its_price(
    session: Session, tashkent_tariffs: None
) -> None:
    company = make_company(session)
    own = company_fee(session, company.id)
    building = make_building(session, company)
    flat = make_apartment(session, building, area_m2=AREA)
    make_decision(
        session,
        building,
        kind=DecisionKind.management_fee,
        effective_from=date(2026, 10, 16),
        fee_minor=250_000,
    )

    run_billing(session, period=OCTOBER, today=TODAY)

    line = management_line(session, flat.id)
    # 54.30 x (15/31 x 2,000 + 16/31 x 2,500) UZS = 12,261,290.32 tiyin, rounded once
    assert line.amount_minor == 12_261_290
    assert line.tariff_id == own.id  # the tariff in force on the month's first day
    assert [Decimal(part["price_minor"]) for part in line.explanation["pricing"]] == [200_000, 250_000]


def test_a_later_decision_ends_the_fee_and_a_company_change_ends_it_too(
    session: Session, tashkent_tariffs: None
) -> None:
    old, new = make_company(session), make_company(session)
    company_fee(session, old.id)
    building = make_building(session, old)
    flat = make_apartment(session, building, area_m2=AREA)
    make_decision(
        session,
        building,
        kind=DecisionKind.management_fee,
        effective_from=date(2026, 3, 1),
        fee_minor=250_000,
    )
    make_decision(
        session, building, kind=DecisionKind.management_fee, effective_from=SEPTEMBER, fee_minor=300_000
    )
    change_management(session, building, company_id=new.id, valid_from=OCTOBER)

    run_billing(session, period=SEPTEMBER, today=TODAY)
    run_billing(session, period=OCTOBER, today=TODAY)

    september = management_line(session, flat.id, SEPTEMBER)
    assert september.amount_minor == 16_290_000  # the later decision: 54.30 x 3,000 UZS
    october = management_line(session, flat.id, OCTOBER)
    assert october.amount_minor == 9_898_890  # the new company has no fee of its own: the city's 1,823
    assert "building_fee" not in october.explanation
    invoices = session.exec(select(Invoice.period, Invoice.company_id).order_by(Invoice.period)).all()
    assert invoices == [(SEPTEMBER, old.id), (OCTOBER, new.id)]


def test_in_the_month_of_a_handover_the_invoice_is_the_new_companys_at_its_own_prices(
    session: Session, tashkent_tariffs: None
) -> None:
    """The old company's decided fee ends on 16 October; the month is the new company's (it
    manages on the last day), so October is billed at the new company's fee for every day."""
    old, new = make_company(session), make_company(session)
    company_fee(session, new.id, 210_000)
    building = make_building(session, old)
    flat = make_apartment(session, building, area_m2=AREA)
    make_decision(
        session,
        building,
        kind=DecisionKind.management_fee,
        effective_from=date(2026, 3, 1),
        fee_minor=250_000,
    )
    change_management(session, building, company_id=new.id, valid_from=date(2026, 10, 16))

    run_billing(session, period=OCTOBER, today=TODAY)

    line = management_line(session, flat.id)
    assert line.amount_minor == 11_403_000  # 54.30 x 2,100 UZS, the whole month
    assert "building_fee" not in line.explanation
