"""Reading a building's expenses for pages and the API: one expense or a page of them, each with
its documents, the requests it answered, the corrections booked on it and what it stands at.

Who may read is `housing.building_money.queries` (the caller has checked the building); a
few queries per page, whatever its length.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

from housing.actors import Actor
from housing.building_money.documents import documents_of
from housing.building_money.models import BuildingExpense, ExpenseDocument, ExpenseRequest, SharedExpense
from housing.building_money.queries import require_money_reader
from housing.building_money.rules import Quarter
from housing.errors import NotFound
from housing.routing import counted_page

T = TypeVar("T")


@dataclass
class ExpenseView:
    expense: BuildingExpense
    documents: list[ExpenseDocument] = field(default_factory=list)
    request_ids: list[int] = field(default_factory=list)
    corrections: list[BuildingExpense] = field(default_factory=list)
    shared: SharedExpense | None = None

    @property
    def standing_minor(self) -> int:
        """What the expense amounts to with every correction booked on it so far."""
        return self.expense.amount_minor + sum(c.amount_minor for c in self.corrections)


def _row(session: Session, model: type[T], row_id: Any, what: str) -> T:
    """The row of `model` with that id (any id that is no database int: none), else 404."""
    ok = isinstance(row_id, int) and not isinstance(row_id, bool) and 0 < row_id < 2**31
    row = session.get(model, row_id) if ok else None
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def expense_of(session: Session, actor: Actor, expense_id: Any, today: date) -> BuildingExpense:
    """The expense if `actor` reads its building's money; otherwise 404 (ids do not leak)."""
    expense = _row(session, BuildingExpense, expense_id, "expense")
    try:
        require_money_reader(session, actor, expense.building_id, today)
    except NotFound:
        raise NotFound(f"expense {expense_id} not found") from None
    return expense


def document_of(session: Session, actor: Actor, document_id: Any, today: date) -> ExpenseDocument:
    """The document if `actor` reads its building's money (residents of the building too); else 404."""
    document = _row(session, ExpenseDocument, document_id, "document")
    try:
        expense_of(session, actor, document.expense_id, today)
    except NotFound:
        raise NotFound(f"document {document_id} not found") from None
    return document


def building_expenses(building_id: int, quarter: Quarter | None = None):
    """The building's expenses (a select), those dated in `quarter` when given."""
    query = select(BuildingExpense).where(BuildingExpense.building_id == building_id)
    if quarter is not None:
        query = query.where(
            BuildingExpense.spent_on >= quarter.first_day, BuildingExpense.spent_on < quarter.end
        )
    return query


def expense_page(
    session: Session, building_id: int, quarter: Quarter | None, *, limit: int | None, offset: int
) -> tuple[list[ExpenseView], int]:
    """A page of the building's expenses, the latest first, with all they are shown with; and the total."""
    rows, total = counted_page(
        session,
        building_expenses(building_id, quarter),
        col(BuildingExpense.spent_on).desc(),
        col(BuildingExpense.id).desc(),
        limit=limit,
        offset=offset,
    )
    return views_of(session, [row[0] for row in rows]), total


def views_of(session: Session, expenses: list[BuildingExpense]) -> list[ExpenseView]:
    ids = [e.id for e in expenses if e.id is not None]
    documents = documents_of(session, ids)
    requests: dict[int, list[int]] = {i: [] for i in ids}
    corrections: dict[int, list[BuildingExpense]] = {i: [] for i in ids}
    shared: dict[int, SharedExpense] = {}
    if ids:
        for expense_id, request_id in session.exec(
            select(ExpenseRequest.expense_id, ExpenseRequest.request_id)
            .where(col(ExpenseRequest.expense_id).in_(ids))
            .order_by(ExpenseRequest.request_id)
        ):
            requests[expense_id].append(request_id)
        for row in session.exec(
            select(BuildingExpense)
            .where(col(BuildingExpense.corrects_id).in_(ids))
            .order_by(BuildingExpense.spent_on, BuildingExpense.id)
        ):
            assert row.corrects_id is not None
            corrections[row.corrects_id].append(row)
        shared_ids = {e.shared_expense_id for e in expenses} - {None}
        if shared_ids:
            shared = {
                s.id: s
                for s in session.exec(select(SharedExpense).where(col(SharedExpense.id).in_(shared_ids)))
            }
    return [
        ExpenseView(
            expense=e,
            documents=documents[e.id],
            request_ids=requests[e.id],
            corrections=corrections[e.id],
            shared=shared.get(e.shared_expense_id) if e.shared_expense_id else None,
        )
        for e in expenses
    ]


def quarter_totals(session: Session, building_ids: list[int], quarter: Quarter) -> dict[int, tuple[int, int]]:
    """Each building's expenses dated in the quarter: (their sum, how many), corrections included."""
    found = dict.fromkeys(building_ids, (0, 0))
    if building_ids:
        rows = session.exec(
            select(BuildingExpense.building_id, func.sum(BuildingExpense.amount_minor), func.count())
            .where(
                col(BuildingExpense.building_id).in_(building_ids),
                BuildingExpense.spent_on >= quarter.first_day,
                BuildingExpense.spent_on < quarter.end,
            )
            .group_by(BuildingExpense.building_id)
        ).all()
        found.update({b: (int(total or 0), int(n)) for b, total, n in rows})
    return found
