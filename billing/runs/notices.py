"""The notice of each issued invoice, written in the run's transaction with the invoice itself."""

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from housing.notifications.recipients import users_by_apartment
from housing.notifications.service import Notice, notify_each


def notify_issued(
    session: Session, invoices: list[dict[str, Any]], *, issued_at: datetime, today: date
) -> int:
    """One `invoice_issued` notice per resident account of each invoice's apartment, in bulk.

    A user who owns two apartments gets two notices, each linked to its invoice.
    """
    users = users_by_apartment(session, [row["apartment_id"] for row in invoices], today)
    notices = [
        Notice(
            user_id,
            {
                "number": row["number"],
                "month": row["period"].isoformat(),
                "amount_minor": row["total_minor"],
                "currency": row["currency"],
                "due": row["due_date"].isoformat(),
            },
            f"/invoices/{row['id']}",
        )
        for row in invoices
        for user_id in users.get(row["apartment_id"], [])
    ]
    return notify_each(session, notices, kind="invoice_issued", now=issued_at)
