"""Reminders of what an invoice still owes: due in a few days (`payment_due_soon`) and overdue
(`payment_overdue`), to every resident account of its apartment, once per invoice and kind.

Which invoices a day reminds of is a range, not a single date, so a day that was run late,
twice or not at all is made good by the next run (`billing.invoices.jobs`):

- due soon: billed, not paid in full, due from the day through `due_soon_days` after it;
- overdue: billed, not paid in full, due before the day, from the day before the first
  day the run covers (the day after the last one it finished).

The amount is what is left to pay today. Flush, never commit.
"""

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from billing.ledger.service import BILLED, unpaid_by_invoice
from billing.models import Invoice, InvoiceStatus
from housing.notifications.recipients import users_by_apartment
from housing.notifications.service import Notice, notify_each

DUE_SOON = "payment_due_soon"
OVERDUE = "payment_overdue"
UNPAID = (InvoiceStatus.issued, InvoiceStatus.partially_paid)


def due_soon_ids(session: Session, day: date, soon_days: int) -> list[int]:
    """The invoices to remind of on `day` as due soon (their due date within `soon_days`)."""
    return _unpaid_due_between(session, day, day + timedelta(days=soon_days))


def overdue_ids(session: Session, first: date, day: date) -> list[int]:
    """The invoices that became late on a day from `first` through `day` (due the day before)."""
    return _unpaid_due_between(session, first - timedelta(days=1), day - timedelta(days=1))


def _unpaid_due_between(session: Session, earliest: date, latest: date) -> list[int]:
    query = select(Invoice.id).where(
        col(Invoice.status).in_(UNPAID), Invoice.due_date >= earliest, Invoice.due_date <= latest
    )
    return list(session.exec(query.order_by(Invoice.id)))


def remind(session: Session, invoice_ids: list[int], *, kind: str, today: date, now: datetime) -> int:
    """Writes `kind` reminders for the invoices still not paid in full; how many were new."""
    invoices = list(
        session.exec(select(Invoice).where(col(Invoice.id).in_(invoice_ids), col(Invoice.status).in_(BILLED)))
    )
    apartments = sorted({invoice.apartment_id for invoice in invoices})
    unpaid = unpaid_by_invoice(session, apartments)
    users = users_by_apartment(session, apartments, today)
    notices = [
        Notice(
            user_id,
            {
                "number": invoice.number,
                "amount_minor": unpaid[invoice.id],
                "currency": invoice.currency,
                "due": invoice.due_date.isoformat(),
            },
            f"/invoices/{invoice.id}",
            key=str(invoice.id),
        )
        for invoice in invoices
        if unpaid.get(invoice.id, 0) > 0
        for user_id in users.get(invoice.apartment_id, [])
    ]
    return notify_each(session, notices, kind=kind, dedupe=f"invoice-{kind}", now=now)
