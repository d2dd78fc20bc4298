"""Numbering under the billing run's lock: "{year}-{sequence:06d}" per company and year, max + 1.

A transaction-scoped PostgreSQL advisory lock, held until the transaction ends, so two
transactions never number the same sequence and numbers have no gaps. Why and how:
docs/billing-rules.md, "Numbering and the lock".
"""

import zlib
from dataclasses import replace

from sqlalchemy import func, text
from sqlmodel import Session, select

from billing.models import Invoice
from billing.runs.lines import DraftInvoice
from housing.db import advisory_lock, among, is_postgres
from housing.registry.models import ManagementCompany

LOCK_KEY = zlib.crc32(b"housing-billing-run")
LOCK_WAIT = 300  # seconds a batch waits for the lock before it fails (and stays unbilled)


def take_lock(session: Session, *, wait: bool) -> bool:
    """The run's transaction-scoped advisory lock: tried, or waited for at most `LOCK_WAIT`.

    Waiting past `LOCK_WAIT` raises (the transaction is lost, its apartments stay unbilled).
    """
    if not wait or not is_postgres(session):
        with advisory_lock(session, LOCK_KEY) as granted:  # held until the transaction ends
            return granted
    session.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": f"{LOCK_WAIT}s"})
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))  # the writes wait as they always did
    return True


def number_drafts(
    session: Session, drafts: list[DraftInvoice], sequences: dict[int, int]
) -> list[DraftInvoice]:
    """The drafts numbered in their order (apartment id), each company's after its last number of the year.

    A company's last number is read once (one query for the batch's new companies) and
    counted on from there: in a real run under the lock, held until the transaction ends.
    """
    if not drafts:
        return []
    year = drafts[0].period.year
    new = sorted({d.company_id for d in drafts} - sequences.keys())
    if new:
        # A max per company (the unique index's last entry), not a GROUP BY over the year's invoices.
        last = (
            select(func.max(Invoice.sequence))
            .where(Invoice.company_id == ManagementCompany.id, Invoice.year == year)
            .scalar_subquery()
        )
        rows = session.exec(
            select(ManagementCompany.id, last).where(among(session, ManagementCompany.id, new))
        )
        sequences.update((company_id, sequence or 0) for company_id, sequence in rows)
    numbered = []
    for draft in drafts:
        sequence = sequences[draft.company_id] = sequences[draft.company_id] + 1
        numbered.append(replace(draft, sequence=sequence, number=f"{year}-{sequence:06d}"))
    return numbered
