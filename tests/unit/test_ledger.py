"""Balances, ledger entries and the daily late penalties."""

from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from billing.jobs import daily_penalties
from billing.ledger.service import accrue_penalties, adjust_line, balance, post_entry, settle_invoices
from billing.models import InvoiceStatus, LedgerEntry, LedgerKind
from housing.errors import Invalid
from housing.settings import Settings
from tests.factories.billing import make_invoice, make_invoice_line, make_ledger_entry
from tests.factories.core import make_apartment

OCTOBER = date(2026, 10, 1)  # due 15 November 2026
CHARGE = 10_000_000


def billed(session: Session, period: date = OCTOBER, total: int = CHARGE, **kw):
    """An issued invoice and its ledger charge."""
    apartment = kw.pop("apartment", None) or make_apartment(session)
    invoice = make_invoice(session, apartment, period=period, status=InvoiceStatus.issued, total_minor=total)
    make_ledger_entry(
        session, apartment, amount_minor=total, invoice_id=invoice.id, dedupe_key=f"charge:{invoice.id}"
    )
    return apartment, invoice


def pay(session: Session, apartment_id: int, amount: int) -> LedgerEntry:
    return post_entry(session, apartment_id=apartment_id, kind=LedgerKind.payment, amount_minor=-amount)


def penalties(session: Session, invoice_id: int) -> list[int]:
    return list(
        session.exec(
            select(LedgerEntry.amount_minor)
            .where(LedgerEntry.invoice_id == invoice_id, LedgerEntry.kind == LedgerKind.penalty)
            .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
        )
    )


def test_balance_after_a_charge_and_a_payment(session: Session) -> None:
    apartment, _ = billed(session)
    assert balance(session, apartment.id) == CHARGE
    pay(session, apartment.id, 4_000_000)
    assert balance(session, apartment.id) == 6_000_000


def test_an_overpayment_is_a_credit_carried_forward(session: Session) -> None:
    apartment, _ = billed(session)
    pay(session, apartment.id, 12_000_000)
    assert balance(session, apartment.id) == -2_000_000
    assert balance(session, make_apartment(session).id) == 0


def test_post_entry_refuses_a_wrong_sign_and_books_a_dedupe_key_once(session: Session) -> None:
    apartment = make_apartment(session)
    with pytest.raises(Invalid):
        post_entry(session, apartment_id=apartment.id, kind=LedgerKind.payment, amount_minor=500)
    first = post_entry(
        session, apartment_id=apartment.id, kind=LedgerKind.adjustment, amount_minor=-300, dedupe_key="fix:1"
    )
    again = post_entry(
        session, apartment_id=apartment.id, kind=LedgerKind.adjustment, amount_minor=-300, dedupe_key="fix:1"
    )
    assert again.id == first.id
    assert balance(session, apartment.id) == -300


def test_penalty_starts_the_day_after_the_15th_once_a_day(session: Session) -> None:
    apartment, invoice = billed(session)

    assert accrue_penalties(session, today=date(2026, 11, 15)) == 0  # due today: not late yet
    assert accrue_penalties(session, today=date(2026, 11, 16)) == 1
    assert accrue_penalties(session, today=date(2026, 11, 16)) == 0  # the same day again
    assert accrue_penalties(session, today=date(2026, 11, 17)) == 1

    assert penalties(session, invoice.id) == [10_000, 10_000]  # 0.1% of 10,000,000 a day
    keys = session.exec(
        select(LedgerEntry.dedupe_key).where(LedgerEntry.kind == LedgerKind.penalty).order_by(LedgerEntry.id)
    ).all()
    assert keys == [f"penalty:{invoice.id}:2026-11-16", f"penalty:{invoice.id}:2026-11-17"]
    assert balance(session, apartment.id) == CHARGE + 20_000


def test_penalty_is_on_what_is_still_overdue(session: Session) -> None:
    apartment, invoice = billed(session)
    pay(session, apartment.id, 4_000_000)
    accrue_penalties(session, today=date(2026, 11, 16))
    assert penalties(session, invoice.id) == [6_000]

    paid, paid_invoice = billed(session)
    pay(session, paid.id, CHARGE)
    accrue_penalties(session, today=date(2026, 11, 17))
    assert penalties(session, paid_invoice.id) == []


def test_payments_settle_the_oldest_invoice_first(session: Session) -> None:
    apartment, september = billed(session, period=date(2026, 9, 1), total=5_000_000)
    _, october = billed(session, period=OCTOBER, total=5_000_000, apartment=apartment)
    pay(session, apartment.id, 5_000_000)

    accrue_penalties(session, today=date(2026, 12, 1))

    assert penalties(session, september.id) == []
    assert penalties(session, october.id) == [5_000]


def test_a_corrected_line_changes_what_is_overdue(session: Session) -> None:
    """A credited amount is not overdue and a charge added later is, as `settle_invoices` counts them."""
    credited, credited_invoice = billed(session)
    billed(session, period=date(2026, 11, 1), total=5_000_000, apartment=credited)  # owed, not yet due
    line = make_invoice_line(session, credited_invoice, amount_minor=CHARGE)
    adjust_line(session, line_id=line.id, amount_minor=-1_000_000, reason="charged too much", user_id=None)
    pay(session, credited.id, 9_000_000)  # what the corrected bill says
    settle_invoices(session, credited.id)
    charged, charged_invoice = billed(session)
    line = make_invoice_line(session, charged_invoice, amount_minor=CHARGE)
    adjust_line(session, line_id=line.id, amount_minor=1_000_000, reason="charged too little", user_id=None)
    pay(session, charged.id, CHARGE)

    accrue_penalties(session, today=date(2026, 11, 16))

    assert credited_invoice.status == InvoiceStatus.paid
    assert penalties(session, credited_invoice.id) == []
    assert penalties(session, charged_invoice.id) == [1_000]  # 0.1% of the 1,000,000 still missing


def test_penalties_stop_at_half_the_charge(session: Session) -> None:
    apartment, invoice = billed(session)
    make_ledger_entry(
        session, apartment, kind=LedgerKind.penalty, amount_minor=4_995_000, invoice_id=invoice.id
    )  # 499.5 days' worth already

    accrue_penalties(session, today=date(2027, 3, 1))
    accrue_penalties(session, today=date(2027, 3, 2))

    assert penalties(session, invoice.id) == [4_995_000, 5_000]  # the last day gets what is left
    assert sum(penalties(session, invoice.id)) == CHARGE // 2


def test_penalties_reach_the_cap_day_by_day(session: Session) -> None:
    _, invoice = billed(session, total=1_000)  # 1 tiyin a day, capped at 500
    day = date(2026, 11, 16)
    for n in range(510):
        accrue_penalties(session, today=date.fromordinal(day.toordinal() + n))
    assert sum(penalties(session, invoice.id)) == 500
    assert len(penalties(session, invoice.id)) == 500


def test_daily_job_books_once_a_day(db: Engine, settings: Settings) -> None:
    with Session(db, expire_on_commit=False) as session:
        _, invoice = billed(session)
        session.commit()

    assert daily_penalties(db, settings, today=date(2026, 11, 20)) == "penalties 2026-11-20: 1 entries added"
    assert daily_penalties(db, settings, today=date(2026, 11, 20)) == "penalties 2026-11-20: 0 entries added"
    with Session(db) as session:
        assert penalties(session, invoice.id) == [10_000]
