"""The personal account's ledger: balances, posting entries, and the daily late penalties.

Signs follow `LedgerEntry`: positive raises the debt, negative lowers it, so the balance is
the plain sum (positive: owed; negative: credit carried forward). Verbs flush, never commit.

Penalties (DESIGN.md; the arithmetic is `billing.penalties`): payments are allocated to the
account's invoices oldest period first; what an invoice past its due date still lacks is
its overdue amount, and each day adds `penalty_for_day` of it, capped per invoice at 50% of
its charge. One entry per invoice and day (dedupe_key "penalty:{invoice_id}:{day}"), so a
second run on the same day adds nothing. A run books `today` only: a day the job did not
run is not booked afterwards (it would have to guess the overdue amount of that day).
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceStatus, LedgerEntry, LedgerKind
from billing.penalties import penalty_for_day
from housing.db import utcnow
from housing.errors import Invalid

BATCH = 1000
BILLED = (InvoiceStatus.issued, InvoiceStatus.partially_paid, InvoiceStatus.paid)


def balance(session: Session, apartment_id: int) -> int:
    """What the account owes in tiyin; negative is a credit carried forward."""
    return int(
        session.exec(
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                LedgerEntry.apartment_id == apartment_id
            )
        ).one()
    )


def _sign_ok(kind: LedgerKind, amount_minor: int) -> bool:
    if kind in (LedgerKind.charge, LedgerKind.penalty, LedgerKind.refund):
        return amount_minor > 0
    if kind is LedgerKind.payment:
        return amount_minor < 0
    return amount_minor != 0


def post_entry(
    session: Session,
    *,
    apartment_id: int,
    kind: LedgerKind,
    amount_minor: int,
    occurred_at: datetime | None = None,
    invoice_id: int | None = None,
    invoice_line_id: int | None = None,
    payment_attempt_id: int | None = None,
    reference: str = "",
    dedupe_key: str | None = None,
    created_by_id: int | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> LedgerEntry:
    """Adds one entry; with a `dedupe_key` already booked, returns that entry and adds nothing."""
    kind = LedgerKind(kind)
    if not _sign_ok(kind, amount_minor):
        raise Invalid(
            f"a {kind} entry cannot be {amount_minor} tiyin (charges, penalties and refunds are positive,"
            " payments negative, adjustments not zero)",
            field="amount_minor",
        )
    if dedupe_key is not None:
        existing = session.exec(select(LedgerEntry).where(LedgerEntry.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return existing
    entry = LedgerEntry(
        apartment_id=apartment_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=currency,
        invoice_id=invoice_id,
        invoice_line_id=invoice_line_id,
        payment_attempt_id=payment_attempt_id,
        reference=reference,
        dedupe_key=dedupe_key,
        occurred_at=occurred_at or utcnow(),
        created_by_id=created_by_id,
    )
    session.add(entry)
    session.flush()
    return entry


def penalty_key(invoice_id: int, day: date) -> str:
    return f"penalty:{invoice_id}:{day.isoformat()}"


def accrue_penalties(session: Session, *, today: date) -> int:
    """Books today's penalty on every invoice still unpaid after its due date; the entries added."""
    added = 0
    ids = _indebted_apartments(session, today)
    for i in range(0, len(ids), BATCH):
        added += _accrue_batch(session, ids[i : i + BATCH], today)
    return added


def _indebted_apartments(session: Session, today: date) -> list[int]:
    """Accounts that owe something and have an invoice past its due date (ids only)."""
    overdue = (
        select(Invoice.apartment_id)
        .where(col(Invoice.status).in_(BILLED), Invoice.due_date < today)
        .distinct()
        .subquery()
    )
    owing = (
        select(LedgerEntry.apartment_id)
        .where(col(LedgerEntry.apartment_id).in_(select(overdue.c.apartment_id)))
        .group_by(LedgerEntry.apartment_id)
        .having(func.sum(LedgerEntry.amount_minor) > 0)
        .order_by(LedgerEntry.apartment_id)
    )
    return list(session.exec(owing))


def _accrue_batch(session: Session, apartment_ids: Sequence[int], today: date) -> int:
    invoices = session.exec(
        select(Invoice.id, Invoice.apartment_id, Invoice.due_date, Invoice.total_minor, Invoice.currency)
        .where(col(Invoice.apartment_id).in_(apartment_ids), col(Invoice.status).in_(BILLED))
        .order_by(Invoice.apartment_id, Invoice.period, Invoice.id)
    ).all()
    # Money paid in: payments (negative) less refunds handed back (positive).
    paid = dict(
        session.exec(
            select(
                LedgerEntry.apartment_id,
                -func.sum(
                    case(
                        (LedgerEntry.kind == LedgerKind.payment, LedgerEntry.amount_minor),
                        (LedgerEntry.kind == LedgerKind.refund, LedgerEntry.amount_minor),
                        else_=0,
                    )
                ),
            )
            .where(col(LedgerEntry.apartment_id).in_(apartment_ids))
            .group_by(LedgerEntry.apartment_id)
        ).all()
    )
    invoice_ids = [row[0] for row in invoices]
    accrued = dict(
        session.exec(
            select(LedgerEntry.invoice_id, func.sum(LedgerEntry.amount_minor))
            .where(col(LedgerEntry.invoice_id).in_(invoice_ids), LedgerEntry.kind == LedgerKind.penalty)
            .group_by(LedgerEntry.invoice_id)
        ).all()
    )
    booked = set(
        session.exec(
            select(LedgerEntry.dedupe_key).where(
                col(LedgerEntry.dedupe_key).in_([penalty_key(i, today) for i in invoice_ids])
            )
        ).all()
    )
    left: dict[int, int] = defaultdict(int)
    for apartment_id, amount in paid.items():
        left[apartment_id] = int(amount or 0)
    occurred_at = datetime.combine(today, time(), UTC)
    entries = []
    for invoice_id, apartment_id, due, total, currency in invoices:
        allocated = min(total, max(left[apartment_id], 0))
        left[apartment_id] -= allocated
        overdue = total - allocated
        if due >= today or overdue <= 0 or penalty_key(invoice_id, today) in booked:
            continue
        amount = penalty_for_day(overdue, total, int(accrued.get(invoice_id) or 0))
        if amount <= 0:
            continue
        entries.append(
            LedgerEntry(
                apartment_id=apartment_id,
                kind=LedgerKind.penalty,
                amount_minor=amount,
                currency=currency,
                invoice_id=invoice_id,
                reference=f"0.1% of {overdue} tiyin overdue on {today.isoformat()}",
                dedupe_key=penalty_key(invoice_id, today),
                occurred_at=occurred_at,
            )
        )
    session.add_all(entries)
    session.flush()
    for entry in entries:
        session.expunge(entry)
    return len(entries)
