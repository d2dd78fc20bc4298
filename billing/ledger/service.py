"""The personal account's ledger: balances, posting entries, settling invoices, and booking
the daily late penalties (the rule itself is `billing.ledger.penalties`).

Positive entries raise the debt, negative lower it, so the balance is the plain sum. Verbs
flush, never commit. The allocation of payments and the worked cases are in docs/ledger.md.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Select, case, func, or_, true
from sqlmodel import Session, col, select

from billing.ledger.penalties import DEFAULT_PENALTIES, PenaltyRules, is_late, organisation_held
from billing.ledger.plan_queries import spared_invoices
from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceLine, InvoiceStatus, LedgerEntry, LedgerKind
from housing import clock
from housing.errors import Conflict, Invalid, NotFound
from housing.registry.models import Ownership, Person, PersonKind
from housing.registry.periods import in_force
from housing.settings import CITY_TIMEZONE

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


def balances(session: Session, apartment_ids: Sequence[int]) -> dict[int, int]:
    """`balance` of several accounts in one query; an account without entries owes 0."""
    rows = session.exec(
        select(LedgerEntry.apartment_id, func.sum(LedgerEntry.amount_minor))
        .where(col(LedgerEntry.apartment_id).in_(apartment_ids))
        .group_by(LedgerEntry.apartment_id)
    ).all()
    owed = dict.fromkeys(apartment_ids, 0)
    owed.update({apartment_id: int(total or 0) for apartment_id, total in rows})
    return owed


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
        occurred_at=occurred_at or clock.now(),
        created_by_id=created_by_id,
    )
    session.add(entry)
    session.flush()
    return entry


def money_paid(session: Session, apartment_id: int) -> int:
    """Money paid into the account: payments less refunds handed back."""
    return paid_by_apartment(session, [apartment_id]).get(apartment_id, 0)


def paid_by_apartment(
    session: Session, apartment_ids: Sequence[int] | Select, as_of: datetime | None = None
) -> dict[int, int]:
    """Money paid into each account (payments less refunds), before `as_of` when given.

    `apartment_ids` is ids or a query of them (a building's accounts: `billing.building_accounts`)."""
    query = (
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
    )
    if as_of is not None:
        query = query.where(LedgerEntry.occurred_at < as_of)
    rows = session.exec(query).all()
    return {apartment_id: int(amount or 0) for apartment_id, amount in rows}


def allocate(paid_minor: int, totals: Sequence[int]) -> list[int]:
    """How much of the money paid covers each invoice, oldest first (the order given)."""
    left = max(paid_minor, 0)
    covered = []
    for total in totals:
        part = min(total, left)
        covered.append(part)
        left -= part
    return covered


def _covered(session: Session, apartment_ids: Sequence[int]) -> list[tuple[Invoice, int, int]]:
    """Each billed invoice of the accounts with what it charges (its corrections included) and
    how much of that the money paid in covers, oldest first within each account."""
    invoices = session.exec(
        select(Invoice)
        .where(col(Invoice.apartment_id).in_(apartment_ids), col(Invoice.status).in_(BILLED))
        .order_by(Invoice.apartment_id, Invoice.period, Invoice.id)
    ).all()
    adjusted = dict(
        session.exec(
            select(LedgerEntry.invoice_id, func.sum(LedgerEntry.amount_minor))
            .where(
                col(LedgerEntry.apartment_id).in_(apartment_ids), LedgerEntry.kind == LedgerKind.adjustment
            )
            .group_by(LedgerEntry.invoice_id)
        ).all()
    )
    paid = paid_by_apartment(session, apartment_ids)
    found: list[tuple[Invoice, int, int]] = []
    by_account: dict[int, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_account[invoice.apartment_id].append(invoice)
    for apartment_id, theirs in by_account.items():
        dues = [i.total_minor + int(adjusted.get(i.id) or 0) for i in theirs]
        covered = allocate(paid.get(apartment_id, 0), dues)
        found += zip(theirs, dues, covered, strict=True)
    return found


def unpaid_by_invoice(session: Session, apartment_ids: Sequence[int]) -> dict[int, int]:
    """invoice id -> what is still to pay on it, for the accounts' billed invoices not paid in full."""
    return {invoice.id: due - part for invoice, due, part in _covered(session, apartment_ids) if part < due}


def settle_invoices(session: Session, apartment_id: int) -> None:
    """Sets each billed invoice of the account to issued, partially_paid or paid by the money paid in."""
    for invoice, due, part in _covered(session, [apartment_id]):
        if part >= due:
            status = InvoiceStatus.paid
        elif part > 0:
            status = InvoiceStatus.partially_paid
        else:
            status = InvoiceStatus.issued
        if invoice.status != status:
            invoice.status = status
            session.add(invoice)
    session.flush()


def adjust_line(
    session: Session, *, line_id: int, amount_minor: int, reason: str, user_id: int | None
) -> LedgerEntry:
    """Corrects an issued invoice's line by an adjustment that names it; the invoice stays as issued.

    Negative credits the account (the line charged too much), positive charges what it
    missed. Credits on a line never exceed what it charged.
    """
    line = session.get(InvoiceLine, line_id)
    if line is None:
        raise NotFound(f"invoice line {line_id} not found")
    invoice = session.get(Invoice, line.invoice_id)
    assert invoice is not None
    if invoice.status not in BILLED:
        raise Conflict(f"invoice {invoice.number} is {invoice.status}; only an issued invoice is corrected")
    if not reason.strip():
        raise Invalid("say why the line is corrected", field="reason")
    earlier = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.invoice_line_id == line_id, LedgerEntry.kind == LedgerKind.adjustment
        )
    ).one()
    net = line.amount_minor - line.deduction_minor + int(earlier)
    if net + amount_minor < 0:
        raise Invalid(
            f"the line now charges {net} tiyin; a credit of {-amount_minor} would take it below zero",
            field="amount_minor",
        )
    entry = post_entry(
        session,
        apartment_id=invoice.apartment_id,
        kind=LedgerKind.adjustment,
        amount_minor=amount_minor,
        currency=invoice.currency,
        invoice_id=invoice.id,
        invoice_line_id=line.id,
        reference=reason.strip()[:200],
        created_by_id=user_id,
    )
    settle_invoices(session, invoice.apartment_id)
    return entry


def penalty_key(invoice_id: int, day: date) -> str:
    return f"penalty:{invoice_id}:{day.isoformat()}"


def accrue_penalties(
    session: Session,
    *,
    today: date,
    as_of: datetime | None = None,
    rules: PenaltyRules = DEFAULT_PENALTIES,
    timezone: str = CITY_TIMEZONE,
) -> int:
    """Books `today`'s penalty on every invoice unpaid after its due date; the entries added.

    `as_of`: count the ledger as it was at that moment (the day's start), see the module's docstring.
    Premises held by organisations that day pay their rate (`organisation_rates`); the invoices
    of an instalment plan holding that day pay none (`billing.ledger.plans`; payments counted
    by local day in `timezone`).
    """
    added = 0
    ids = _indebted_apartments(session, today, as_of)
    for i in range(0, len(ids), BATCH):
        added += _accrue_batch(session, ids[i : i + BATCH], today, as_of, rules, timezone)
    return added


def organisation_rates(session: Session, apartment_ids: Sequence[int], day: date) -> set[int]:
    """The apartments that organisations hold more than half of on `day` (the rule:
    `billing.ledger.penalties.organisation_held`), from the ownerships in force that day."""
    rows = session.exec(
        select(
            Ownership.apartment_id,
            Ownership.share_numerator,
            Ownership.share_denominator,
            Person.kind,
        )
        .join(Person, Person.id == Ownership.person_id)
        .where(col(Ownership.apartment_id).in_(apartment_ids), in_force(Ownership, day))
    ).all()
    shares: dict[int, list[tuple[int, int, bool]]] = defaultdict(list)
    for apartment_id, numerator, denominator, kind in rows:
        shares[apartment_id].append((numerator, denominator, kind == PersonKind.organisation))
    return {apartment_id for apartment_id, held in shares.items() if organisation_held(held)}


def penalty_payer(session: Session, apartment_id: int, day: date) -> PersonKind:
    """Whose penalty rate the account pays on `day`: organisation or individual (what the invoice shows)."""
    held = apartment_id in organisation_rates(session, [apartment_id], day)
    return PersonKind.organisation if held else PersonKind.individual


def issued_before(as_of: datetime | None) -> Any:
    """Invoices that existed at `as_of` (all of them without it; one made without an issue time counts)."""
    if as_of is None:
        return true()
    return or_(col(Invoice.issued_at).is_(None), col(Invoice.issued_at) < as_of)


def _indebted_apartments(session: Session, today: date, as_of: datetime | None) -> list[int]:
    """Accounts with an invoice past its due date that owe something now, or that paid or were
    credited since `as_of` (they may have owed then); ids only."""
    overdue = (
        select(Invoice.apartment_id)
        .where(col(Invoice.status).in_(BILLED), Invoice.due_date < today, issued_before(as_of))
        .distinct()
        .subquery()
    )
    owing = (
        select(LedgerEntry.apartment_id)
        .where(col(LedgerEntry.apartment_id).in_(select(overdue.c.apartment_id)))
        .group_by(LedgerEntry.apartment_id)
        .having(func.sum(LedgerEntry.amount_minor) > 0)
    )
    if as_of is not None:
        since = select(LedgerEntry.apartment_id).where(
            col(LedgerEntry.apartment_id).in_(select(overdue.c.apartment_id)),
            col(LedgerEntry.kind).in_((LedgerKind.payment, LedgerKind.refund, LedgerKind.adjustment)),
            LedgerEntry.occurred_at >= as_of,
        )
        owing = owing.union(since)
    return sorted(set(session.execute(owing).scalars()))


def _accrue_batch(
    session: Session,
    apartment_ids: Sequence[int],
    today: date,
    as_of: datetime | None,
    rules: PenaltyRules,
    timezone: str,
) -> int:
    invoices = session.exec(
        select(Invoice.id, Invoice.apartment_id, Invoice.due_date, Invoice.total_minor, Invoice.currency)
        .where(
            col(Invoice.apartment_id).in_(apartment_ids),
            col(Invoice.status).in_(BILLED),
            issued_before(as_of),
        )
        .order_by(Invoice.apartment_id, Invoice.period, Invoice.id)
    ).all()
    paid = paid_by_apartment(session, apartment_ids, as_of)
    invoice_ids = [row[0] for row in invoices]
    accrued = _sum_by_invoice(session, invoice_ids, LedgerKind.penalty)
    adjusted = _sum_by_invoice(session, invoice_ids, LedgerKind.adjustment, as_of)
    booked = set(
        session.exec(
            select(LedgerEntry.dedupe_key).where(
                col(LedgerEntry.dedupe_key).in_([penalty_key(i, today) for i in invoice_ids])
            )
        ).all()
    )
    organisations = organisation_rates(session, apartment_ids, today)
    spared = spared_invoices(session, apartment_ids, today, as_of, timezone)
    left: dict[int, int] = defaultdict(int, paid)
    occurred_at = datetime.combine(today, time(), UTC)
    entries = []
    for invoice_id, apartment_id, due, total, currency in invoices:
        charged = max(total + int(adjusted.get(invoice_id) or 0), 0)  # with its corrections, as settled
        allocated = min(charged, max(left[apartment_id], 0))
        left[apartment_id] -= allocated
        overdue = charged - allocated
        if not is_late(due, today) or overdue <= 0 or penalty_key(invoice_id, today) in booked:
            continue
        if invoice_id in spared:
            continue
        applying = rules.applying(apartment_id in organisations)
        amount = applying.for_day(overdue, charged, int(accrued.get(invoice_id) or 0))
        if amount <= 0:
            continue
        entries.append(
            LedgerEntry(
                apartment_id=apartment_id,
                kind=LedgerKind.penalty,
                amount_minor=amount,
                currency=currency,
                invoice_id=invoice_id,
                reference=applying.reference(overdue, today),
                dedupe_key=penalty_key(invoice_id, today),
                occurred_at=occurred_at,
            )
        )
    session.add_all(entries)
    session.flush()
    for entry in entries:
        session.expunge(entry)
    return len(entries)


def _sum_by_invoice(
    session: Session, invoice_ids: Sequence[int], kind: LedgerKind, as_of: datetime | None = None
) -> dict[int, int]:
    query = select(LedgerEntry.invoice_id, func.sum(LedgerEntry.amount_minor)).where(
        col(LedgerEntry.invoice_id).in_(invoice_ids), LedgerEntry.kind == kind
    )
    if as_of is not None:
        query = query.where(LedgerEntry.occurred_at < as_of)
    rows = session.exec(query.group_by(LedgerEntry.invoice_id)).all()
    return {invoice_id: int(amount or 0) for invoice_id, amount in rows}
