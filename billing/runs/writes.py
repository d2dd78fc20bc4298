"""The billing run's bulk writes: a batch's invoices, their lines and ledger charges as rows.

Three bulk inserts (COPY on PostgreSQL) under ids reserved beforehand, no ORM objects; an
account already in credit is settled at once (`billing.ledger.service.settle_invoices`).
"""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from billing.ledger.service import settle_invoices
from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceLine, InvoiceStatus, LedgerEntry, LedgerKind
from billing.runs.lines import DraftInvoice
from billing.runs.notices import notify_issued
from housing import clock
from housing.db import among, insert_rows, reserve_ids


def charge_key(invoice_id: int | None) -> str:
    return f"charge:{invoice_id}"


class InvoiceRows:
    """A batch's invoices, their lines and ledger charges as rows: three bulk inserts, no ORM objects.

    Ids are reserved first, so lines and charges can name their invoice without RETURNING;
    the lines' rows are made then, before the lock (`billing.runs.service`). `write` stamps the issue time
    and writes the drafts numbered under it, and leaves out the others (billed meanwhile;
    their ids go unused).
    """

    def __init__(self, session: Session, drafts: list[DraftInvoice]) -> None:
        self.ids = dict(
            zip(
                (d.apartment_id for d in drafts),
                reserve_ids(session, Invoice.__table__, len(drafts)),
                strict=True,
            )
        )
        self.lines: dict[int, list[dict[str, Any]]] = {
            draft.apartment_id: [
                {
                    "invoice_id": self.ids[draft.apartment_id],
                    "service_id": line.service_id,
                    "tariff_id": line.tariff_id,
                    "basis": line.basis.value,
                    "quantity": line.quantity,
                    "quantity_source": line.quantity_source.value,
                    "explanation": line.explanation,
                    "amount_minor": line.amount_minor,
                    "deduction_minor": line.deduction_minor,
                    "deduction_reason": line.deduction_reason,
                }
                for line in draft.lines
            ]
            for draft in drafts
        }

    def write(
        self, session: Session, drafts: list[DraftInvoice], *, timezone: str, min_days_to_pay: int
    ) -> None:
        """Writes the numbered drafts (those given to the constructor, or some of them).

        Called under the numbering lock: the issue time is stamped here, so it follows the
        numbers, and each invoice is due `min_days_to_pay` after its local issue date at the
        earliest, and each resident account of an apartment gets its invoice's notice. An account already in credit (paid beyond its earlier invoices) is settled
        at once, so its new invoice comes out paid or partially paid; the others stay issued.
        """
        if not drafts:
            return
        credited = accounts_in_credit(session, [d.apartment_id for d in drafts])
        issued_at = clock.now()
        issued_on = issued_at.astimezone(ZoneInfo(timezone)).date()
        invoices, lines, entries = [], [], []
        for draft in drafts:
            invoice_id = self.ids[draft.apartment_id]
            invoices.append(
                {
                    "id": invoice_id,
                    "apartment_id": draft.apartment_id,
                    "company_id": draft.company_id,
                    "period": draft.period,
                    "year": draft.period.year,
                    "sequence": draft.sequence,
                    "number": draft.number,
                    "status": InvoiceStatus.issued.value,
                    "issued_at": issued_at,
                    "due_date": max(draft.due_date, issued_on + timedelta(days=min_days_to_pay)),
                    "total_minor": draft.total_minor,
                    "currency": DEFAULT_CURRENCY,
                    "created_at": issued_at,
                    "updated_at": issued_at,
                }
            )
            lines.extend(line | {"created_at": issued_at} for line in self.lines[draft.apartment_id])
            # New invoices cannot have a charge yet, so the entries go in at once (no dedupe lookup).
            # A total below zero (a recalculation credited more than the month costs) is an
            # adjustment crediting the account.
            if draft.total_minor != 0:
                kind = LedgerKind.charge if draft.total_minor > 0 else LedgerKind.adjustment
                entries.append(
                    {
                        "apartment_id": draft.apartment_id,
                        "kind": kind.value,
                        "amount_minor": draft.total_minor,
                        "currency": DEFAULT_CURRENCY,
                        "invoice_id": invoice_id,
                        "reference": draft.number,
                        "dedupe_key": charge_key(invoice_id),
                        "occurred_at": issued_at,
                        "created_at": issued_at,
                    }
                )
        insert_rows(session, Invoice.__table__, invoices)
        insert_rows(session, InvoiceLine.__table__, lines)
        insert_rows(session, LedgerEntry.__table__, entries)
        notify_issued(session, invoices, issued_at=issued_at, today=issued_on)
        for apartment_id in credited:
            settle_invoices(session, apartment_id)


def accounts_in_credit(session: Session, apartment_ids: list[int]) -> list[int]:
    """The accounts among these whose balance is negative: money paid beyond what they owe."""
    return list(
        session.exec(
            select(LedgerEntry.apartment_id)
            .where(among(session, LedgerEntry.apartment_id, apartment_ids))
            .group_by(LedgerEntry.apartment_id)
            .having(func.sum(LedgerEntry.amount_minor) < 0)
            .order_by(LedgerEntry.apartment_id)
        )
    )
