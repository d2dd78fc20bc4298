"""Billing tables: rows come back as stored, the unique keys hold, the Tashkent seed is right."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from billing.models import (
    Basis,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    PaymentStatus,
    SeasonalNorm,
    Service,
    Tariff,
    TariffTier,
    WebhookEvent,
)
from billing.tariffs import pricing, service
from billing.tariffs.pricing import Tier, price_line
from billing.tariffs.seeding import seed_tashkent_tariffs
from tests.factories.billing import (
    make_invoice,
    make_invoice_line,
    make_ledger_entry,
    make_payment_attempt,
    make_service,
    make_tariff,
    make_webhook_event,
)
from tests.factories.core import make_apartment, make_company


def _fails(session: Session, make) -> None:
    with pytest.raises(IntegrityError):
        make()
    session.rollback()


# Round trips


def test_billing_rows_come_back_as_stored(session: Session):
    apartment = make_apartment(session)
    water = make_service(session, code="cold_water", unit="m3")
    invoice = make_invoice(session, apartment, period=date(2026, 10, 1), sequence=123)
    line = make_invoice_line(
        session,
        invoice,
        water,
        quantity=Decimal("12.345"),
        amount_minor=4_701_000,
        deduction_minor=4_701,
        deduction_reason="hot water below 57 C for 30 hours",
        explanation={"tiers": [{"tier": 1, "units": "12.345", "price_minor": "380800"}]},
    )
    entry = make_ledger_entry(
        session, apartment, amount_minor=9_000_000_000_000, invoice_id=invoice.id, dedupe_key="charge:1"
    )
    attempt = make_payment_attempt(session, apartment, invoice_id=invoice.id, external_id="pi_123")
    event = make_webhook_event(session, event_id="evt_1")
    session.commit()

    with Session(session.get_bind()) as fresh:
        stored = fresh.get(Invoice, invoice.id)
        assert (stored.number, stored.status, stored.currency) == ("2026-000123", InvoiceStatus.draft, "UZS")
        assert stored.due_date == date(2026, 11, 15)
        assert stored.created_at.tzinfo is not None
        stored_line = fresh.get(InvoiceLine, line.id)
        assert stored_line.quantity == Decimal("12.345")
        assert stored_line.explanation == {"tiers": [{"tier": 1, "units": "12.345", "price_minor": "380800"}]}
        assert (stored_line.amount_minor, stored_line.deduction_minor) == (4_701_000, 4_701)
        assert fresh.get(LedgerEntry, entry.id).amount_minor == 9_000_000_000_000  # beyond 32 bits
        stored_attempt = fresh.get(PaymentAttempt, attempt.id)
        assert (stored_attempt.status, stored_attempt.external_id) == (PaymentStatus.created, "pi_123")
        assert fresh.get(WebhookEvent, event.id).received_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def test_a_tariff_keeps_its_tiers_norms_and_fractions_of_a_tiyin(session: Session):
    gas = make_service(session, code="gas")
    tariff = make_tariff(
        session,
        gas,
        tiers=[Tier(Decimal(100), Decimal("100000")), Tier(None, Decimal("4901960.5"))],
        seasonal_norms=[pricing.SeasonalNorm(frozenset({12, 1, 2, 11}), Decimal(500))],
    )
    session.commit()
    tiers, norms = service.tariff_parts(session, [tariff.id])
    assert [(t.position, t.up_to, t.price_minor) for t in tiers[tariff.id]] == [
        (1, Decimal(100), Decimal("100000")),
        (2, None, Decimal("4901960.5")),
    ]
    assert [(n.months, n.up_to) for n in norms[tariff.id]] == [("1,2,11,12", Decimal(500))]


# Unique keys and checks


def test_one_invoice_per_apartment_and_month(session: Session):
    apartment = make_apartment(session)
    make_invoice(session, apartment, period=date(2026, 10, 1))
    session.commit()
    _fails(session, lambda: make_invoice(session, apartment, period=date(2026, 10, 1)))
    make_invoice(session, apartment, period=date(2026, 11, 1))  # the next month is fine
    session.commit()


def test_invoice_numbers_are_unique_per_company_and_year(session: Session):
    apartment = make_apartment(session)
    make_invoice(session, apartment, period=date(2026, 10, 1), sequence=7)
    session.commit()
    other = make_apartment(session, building_id=apartment.building_id, number="other")
    _fails(session, lambda: make_invoice(session, other, period=date(2026, 10, 1), sequence=7))
    other = make_apartment(session, building_id=apartment.building_id, number="other")
    make_invoice(session, other, period=date(2027, 1, 1), sequence=7)  # a new year starts again
    make_invoice(session, period=date(2026, 10, 1), sequence=7)  # another company counts apart
    session.commit()


def test_a_webhook_event_is_stored_once_per_provider(session: Session):
    make_webhook_event(session, provider="stripe", event_id="evt_42")
    session.commit()
    _fails(session, lambda: make_webhook_event(session, provider="stripe", event_id="evt_42"))
    make_webhook_event(session, provider="bank", event_id="evt_42")
    session.commit()


def test_a_dedupe_key_makes_a_ledger_effect_happen_once(session: Session):
    apartment = make_apartment(session)
    key = f"penalty:{apartment.id}:2026-11-20"
    make_ledger_entry(session, apartment, kind=LedgerKind.penalty, amount_minor=1_000, dedupe_key=key)
    make_ledger_entry(session, apartment)  # entries without a key never clash
    make_ledger_entry(session, apartment)
    session.commit()
    _fails(
        session,
        lambda: make_ledger_entry(
            session, apartment, kind=LedgerKind.penalty, amount_minor=1_000, dedupe_key=key
        ),
    )
    assert session.exec(select(func.count()).select_from(LedgerEntry)).one() == 3


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        (LedgerKind.payment, 5_000),  # a payment lowers the debt: negative
        (LedgerKind.charge, -5_000),
        (LedgerKind.penalty, 0),
        (LedgerKind.adjustment, 0),
    ],
)
def test_a_ledger_amount_has_the_sign_of_its_kind(session: Session, kind, amount):
    apartment = make_apartment(session)
    session.commit()
    _fails(session, lambda: make_ledger_entry(session, apartment, kind=kind, amount_minor=amount))


def test_payment_keys_are_unique(session: Session):
    apartment = make_apartment(session)
    make_payment_attempt(session, apartment, idempotency_key="invoice:1:attempt:1", external_id="pi_1")
    session.commit()
    _fails(session, lambda: make_payment_attempt(session, apartment, idempotency_key="invoice:1:attempt:1"))
    _fails(session, lambda: make_payment_attempt(session, apartment, external_id="pi_1"))
    make_payment_attempt(session, apartment, gateway="bank", external_id="pi_1")  # another gateway's id
    session.commit()


# Which tariff applies


def _month_charge(
    session: Session, code: str, quantity: str, month: date, company_id=None, basis=Basis.per_unit
) -> int:
    billed = session.exec(select(Service).where(Service.code == code)).one()
    versions = service.tariff_versions(session, service_id=billed.id, basis=basis, company_id=company_id)
    end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return price_line(Decimal(quantity), versions, month, end).amount_minor


def test_a_companys_own_tariff_overrides_the_city_wide_one_from_its_start(session: Session):
    fee = make_service(session, code="management", unit="m2")
    company = make_company(session)
    make_tariff(session, fee, basis=Basis.per_m2, tiers=[Tier(None, Decimal(182_300))])
    make_tariff(
        session,
        fee,
        basis=Basis.per_m2,
        company_id=company.id,
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 7, 1),
        tiers=[Tier(None, Decimal(250_000))],
    )
    session.commit()

    def fee_for(month: date, company_id: int | None) -> int:
        return _month_charge(session, "management", "50", month, company_id, Basis.per_m2)

    assert fee_for(date(2025, 12, 1), company.id) == 50 * 182_300
    assert fee_for(date(2026, 1, 1), company.id) == 50 * 250_000
    assert fee_for(date(2026, 7, 1), company.id) == 50 * 182_300
    assert fee_for(date(2026, 1, 1), None) == 50 * 182_300  # every other company's buildings


# The Tashkent seed


def _count(engine: Engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_seeding_tashkent_tariffs_twice_adds_nothing_the_second_time(db: Engine):
    first = seed_tashkent_tariffs(db)
    counts = [_count(db, m) for m in (Service, Tariff, TariffTier, SeasonalNorm)]
    second = seed_tashkent_tariffs(db)
    assert first == "Tashkent tariffs: 7 services and 9 tariffs added"
    assert second == "Tashkent tariffs: 0 services and 0 tariffs added"
    assert [_count(db, m) for m in (Service, Tariff, TariffTier, SeasonalNorm)] == counts == [7, 9, 12, 1]


def test_seeded_tariffs_price_as_design_says(db: Engine):
    seed_tashkent_tariffs(db)
    with Session(db) as session:
        electricity = session.exec(select(Service).where(Service.code == "electricity")).one()
        tariff = session.exec(select(Tariff).where(Tariff.service_id == electricity.id)).one()
        assert (tariff.basis, tariff.valid_from, tariff.valid_until) == (
            Basis.per_unit,
            date(2025, 5, 1),
            None,
        )
        tiers, _ = service.tariff_parts(session, [tariff.id])
        assert [(t.up_to, t.price_minor) for t in tiers[tariff.id]] == [
            (Decimal(200), Decimal(60_000)),
            (Decimal(500), Decimal(80_000)),
            (None, Decimal(100_000)),
        ]
        # 650 kWh: 200 x 600 + 300 x 800 + 150 x 1,000 = 510,000 UZS.
        assert _month_charge(session, "electricity", "650", date(2026, 3, 1)) == 51_000_000
        # Gas: the social norm is 500 m3 in January and 100 m3 in July.
        assert _month_charge(session, "gas", "300", date(2026, 1, 1)) == 300 * 100_000
        assert _month_charge(session, "gas", "300", date(2026, 7, 1)) == 100 * 100_000 + 200 * 180_000
        water = session.exec(select(Service).where(Service.code == "cold_water")).one()
        prices = session.exec(
            select(Tariff.basis, TariffTier.price_minor)
            .join(TariffTier, TariffTier.tariff_id == Tariff.id)
            .where(Tariff.service_id == water.id)
        ).all()
        assert sorted(prices) == [(Basis.per_person, Decimal(4_901_960)), (Basis.per_unit, Decimal(380_800))]


def test_seeding_keeps_a_tariff_an_admin_already_set(db: Engine, session: Session):
    electricity = make_service(session, code="electricity", name="Electricity", unit="kWh")
    make_tariff(session, electricity, valid_from=date(2025, 1, 1), tiers=[Tier(None, Decimal(45_000))])
    session.commit()
    summary = seed_tashkent_tariffs(db)
    assert summary == "Tashkent tariffs: 6 services and 8 tariffs added, 1 kept as an admin set them"
    assert (
        session.exec(
            select(func.count()).select_from(Tariff).where(Tariff.service_id == electricity.id)
        ).one()
        == 1
    )
