"""What residents' payments brought the company on a building, and what they owe, at a moment.

The rule (docs/building-reports.md, "Income"): billing allocates the money paid into a
personal account to its billed invoices oldest first (`billing.ledger.service.allocate`).
At a moment T we take, for each account of the building:

- the invoices billed (issued, partially paid or paid) and issued before T, each with the
  adjustments booked on it before T: what it charges (`due`);
- the money paid in before T (payments less refunds, `paid_by_apartment(as_of=T)`), spread
  over those invoices oldest first: what covers each (`covered`);
- the company's part of each invoice: the net (amount less deduction) of its company lines,
  with the adjustments booked on those lines before T. A company line is the management fee
  (service `management`, which is also the service a building's decided fee prices, see
  `billing.tariffs.building_fees`) or any line priced by a company's own tariff
  (`Tariff.company_id` set). Utilities at the city's tariffs are passed on to suppliers and
  are not the company's income.

collected(invoice) = covered x part / due, rounded half up once per invoice, never above the
part nor the money covering the invoice (nor below zero). Late penalties are not the company's income: they are not on any
invoice line and the allocation covers invoices only.

`collected_to(T)` is cumulative, so a payment booked later but dated before T raises the
figure for T: a report freezes it, and the next report shows the difference as late income.
Everything is batched: one query per table for any number of buildings.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_
from sqlmodel import Session, col, select

from billing.ledger.service import BILLED, allocate, issued_before, paid_by_apartment
from billing.models import Invoice, InvoiceLine, LedgerEntry, LedgerKind, Service, Tariff
from billing.tariffs.building_fees import MANAGEMENT_SERVICE
from housing.registry.models import Apartment


def company_share(covered_minor: int, due_minor: int, part_minor: int) -> int:
    """What `covered_minor` of an invoice charging `due_minor` brought the company, whose part of
    the invoice is `part_minor`: in proportion, rounded half up, never above the part nor the
    money (a part above the due, when another line was credited, is capped by what was paid)."""
    if covered_minor <= 0 or due_minor <= 0 or part_minor <= 0:
        return 0
    share = (2 * covered_minor * part_minor + due_minor) // (2 * due_minor)
    return min(share, part_minor, covered_minor)


def _apartments(building_ids: Sequence[int]) -> Select:
    return select(Apartment.id).where(col(Apartment.building_id).in_(building_ids))


def _company_line() -> object:
    return or_(Service.code == MANAGEMENT_SERVICE, col(Tariff.company_id).is_not(None))


def _adjusted(session: Session, entries: object, until: datetime) -> dict[int, int]:
    """Each invoice's adjustments booked before `until` among the ledger entries `entries` picks."""
    return dict(
        session.exec(
            select(LedgerEntry.invoice_id, func.sum(LedgerEntry.amount_minor))
            .where(entries, LedgerEntry.kind == LedgerKind.adjustment, LedgerEntry.occurred_at < until)
            .group_by(LedgerEntry.invoice_id)
        ).all()
    )


def collected_by_building(session: Session, building_ids: Iterable[int], until: datetime) -> dict[int, int]:
    """`collected_to` of each building, in one query per table whatever the number of buildings."""
    ids = sorted(set(building_ids))
    result = dict.fromkeys(ids, 0)
    if not ids:
        return result
    building_of = dict(
        session.exec(
            select(Apartment.id, Apartment.building_id).where(col(Apartment.building_id).in_(ids))
        ).all()
    )
    apartments = _apartments(ids)
    billed = (
        select(Invoice.id)
        .where(col(Invoice.apartment_id).in_(apartments), col(Invoice.status).in_(BILLED))
        .where(issued_before(until))
    )
    invoices = session.exec(
        select(Invoice.id, Invoice.apartment_id, Invoice.total_minor)
        .where(col(Invoice.id).in_(billed))
        .order_by(Invoice.apartment_id, Invoice.period, Invoice.id)
    ).all()
    adjusted = _adjusted(session, col(LedgerEntry.invoice_id).in_(billed), until)
    company_lines = (
        select(InvoiceLine.id)
        .join(Service, col(Service.id) == InvoiceLine.service_id)
        .outerjoin(Tariff, col(Tariff.id) == InvoiceLine.tariff_id)
        .where(col(InvoiceLine.invoice_id).in_(billed), _company_line())
    )
    parts = dict(
        session.exec(
            select(InvoiceLine.invoice_id, func.sum(InvoiceLine.amount_minor - InvoiceLine.deduction_minor))
            .where(col(InvoiceLine.id).in_(company_lines))
            .group_by(InvoiceLine.invoice_id)
        ).all()
    )
    line_adjusted = _adjusted(session, col(LedgerEntry.invoice_line_id).in_(company_lines), until)
    paid = paid_by_apartment(session, apartments, until)
    by_account: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for invoice_id, apartment_id, total in invoices:
        by_account[apartment_id].append((invoice_id, total + int(adjusted.get(invoice_id) or 0)))
    for apartment_id, theirs in by_account.items():
        covered = allocate(paid.get(apartment_id, 0), [max(due, 0) for _, due in theirs])
        for (invoice_id, due), part in zip(theirs, covered, strict=True):
            company = int(parts.get(invoice_id) or 0) + int(line_adjusted.get(invoice_id) or 0)
            result[building_of[apartment_id]] += company_share(part, due, company)
    return result


def collected_to(session: Session, building_id: int, until: datetime) -> int:
    """What residents' payments made before `until` brought the company on the building (see the module)."""
    return collected_by_building(session, [building_id], until)[building_id]


@dataclass(frozen=True)
class Debt:
    """Residents' debt on a building in aggregate: never by name or apartment."""

    debt_minor: int  # the sum of the positive balances
    accounts_in_debt: int
    accounts: int


def debts_by_building(session: Session, building_ids: Iterable[int], until: datetime) -> dict[int, Debt]:
    """Each building's `Debt` from the ledger entries booked before `until` (penalties included)."""
    ids = sorted(set(building_ids))
    accounts = dict.fromkeys(ids, 0)
    accounts.update(
        session.exec(
            select(Apartment.building_id, func.count())
            .where(col(Apartment.building_id).in_(ids))
            .group_by(Apartment.building_id)
        ).all()
    )
    balances = (
        select(Apartment.building_id, func.sum(LedgerEntry.amount_minor).label("owed"))
        .join(Apartment, col(Apartment.id) == LedgerEntry.apartment_id)
        .where(col(Apartment.building_id).in_(ids), LedgerEntry.occurred_at < until)
        .group_by(Apartment.building_id, LedgerEntry.apartment_id)
        .subquery()
    )
    owed: dict[int, tuple[int, int]] = {
        building_id: (int(total or 0), int(count))
        for building_id, total, count in session.execute(
            select(balances.c.building_id, func.sum(balances.c.owed), func.count())
            .where(balances.c.owed > 0)
            .group_by(balances.c.building_id)
        ).all()
    }
    return {
        building_id: Debt(
            debt_minor=owed.get(building_id, (0, 0))[0],
            accounts_in_debt=owed.get(building_id, (0, 0))[1],
            accounts=int(accounts[building_id]),
        )
        for building_id in ids
    }


def debt_at(session: Session, building_id: int, until: datetime) -> Debt:
    """Residents' debt on the building at `until`: the sum of positive balances, how many accounts."""
    return debts_by_building(session, [building_id], until)[building_id]


def had_money_before(session: Session, building_ids: list[int], until: datetime) -> set[int]:
    """The buildings any of whose accounts had a ledger entry before `until`."""
    return set(
        session.exec(
            select(Apartment.building_id)
            .join(LedgerEntry, col(LedgerEntry.apartment_id) == Apartment.id)
            .where(col(Apartment.building_id).in_(building_ids), LedgerEntry.occurred_at < until)
            .distinct()
        ).all()
    )
