"""Plain factory functions for billing rows; each flushes, none commits."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

from sqlmodel import Session, SQLModel

from billing.ledger.penalties import due_date
from billing.models import (
    Basis,
    Gateway,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    QuantitySource,
    Service,
    Tariff,
    WebhookEvent,
)
from billing.tariffs import service
from billing.tariffs.pricing import Tier
from housing.registry.models import Apartment
from housing.registry.service import management_history
from tests.factories.core import make_apartment

_seq = itertools.count(1)
M = TypeVar("M", bound=SQLModel)
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def make_service(session: Session, **kw) -> Service:
    n = next(_seq)
    fields = {"code": f"service_{n}", "name": f"Service {n}", "unit": "m3"} | kw
    return service.create_service(session, **fields)


def make_tariff(session: Session, billed: Service | None = None, price_minor: int = 100_000, **kw) -> Tariff:
    """A city-wide per-unit tariff from 1 May 2025 at one price, 1,000 UZS per unit, unless told
    otherwise (`tiers` for more than one price)."""
    billed = billed or make_service(session)
    fields = {
        "service_id": billed.id,
        "basis": Basis.per_unit,
        "valid_from": date(2025, 5, 1),
        "tiers": [Tier(up_to=None, price_minor=Decimal(price_minor))],
    } | kw
    return service.create_tariff(session, **fields)


def make_invoice(session: Session, apartment: Apartment | None = None, **kw) -> Invoice:
    apartment = apartment or make_apartment(session)
    company_id = (
        kw.pop("company_id", None) or management_history(session, apartment.building_id)[-1].company_id
    )
    period = kw.pop("period", date(2026, 10, 1))
    sequence = kw.pop("sequence", next(_seq))
    fields = {
        "apartment_id": apartment.id,
        "company_id": company_id,
        "period": period,
        "year": period.year,
        "sequence": sequence,
        "number": f"{period.year}-{sequence:06d}",
        "due_date": due_date(period),
    } | kw
    return _add(session, Invoice(**fields))


def make_billed_invoice(session: Session, apartment: Apartment, total_minor: int, **kw) -> Invoice:
    """An issued invoice with its ledger charge, as a billing run leaves it."""
    invoice = make_invoice(session, apartment, status=InvoiceStatus.issued, total_minor=total_minor, **kw)
    make_ledger_entry(
        session,
        apartment,
        kind=LedgerKind.charge,
        amount_minor=total_minor,
        invoice_id=invoice.id,
        dedupe_key=f"charge:{invoice.id}",
    )
    return invoice


def make_invoice_line(session: Session, invoice: Invoice, billed: Service | None = None, **kw) -> InvoiceLine:
    billed = billed or make_service(session)
    fields = {
        "invoice_id": invoice.id,
        "service_id": billed.id,
        "basis": Basis.per_unit,
        "quantity": Decimal("12.500"),
        "quantity_source": QuantitySource.metered,
        "amount_minor": 4_760_000,
    } | kw
    return _add(session, InvoiceLine(**fields))


def make_ledger_entry(session: Session, apartment: Apartment | None = None, **kw) -> LedgerEntry:
    apartment = apartment or make_apartment(session)
    fields = {
        "apartment_id": apartment.id,
        "kind": LedgerKind.charge,
        "amount_minor": 10_000_000,
        "occurred_at": NOW,
    } | kw
    return _add(session, LedgerEntry(**fields))


def make_payment_attempt(session: Session, apartment: Apartment | None = None, **kw) -> PaymentAttempt:
    apartment = apartment or make_apartment(session)
    fields = {
        "apartment_id": apartment.id,
        "gateway": Gateway.stripe,
        "amount_minor": 10_000_000,
        "idempotency_key": f"apartment:{apartment.id}:attempt:{next(_seq)}",
    } | kw
    return _add(session, PaymentAttempt(**fields))


def make_webhook_event(session: Session, **kw) -> WebhookEvent:
    fields = {
        "provider": "stripe",
        "event_id": f"evt_{next(_seq):08d}",
        "type": "payment_intent.succeeded",
        "received_at": NOW,
    } | kw
    return _add(session, WebhookEvent(**fields))


def _add(session: Session, row: M) -> M:
    session.add(row)
    session.flush()
    return row
