"""The documents behind a building's expenses: an act, an invoice, a photo (an image or a PDF).

A document is checked by its content and its size (`settings.money.max_document_bytes`) and
stored by `housing.filestore` under `settings.money.document_dir` before its row is written.
The company that booked the expense documents it (its managers, or an admin), while the
expense's quarter is still open: a published report shows its works with their documents as
they were, so a quarter frozen by its report takes no new ones.

A shared expense's document is attached once and listed under every part: one row per part,
all naming the same stored file, so residents of each building read it from their own
building's expense.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from housing import filestore
from housing.actors import Actor
from housing.building_money.models import BuildingExpense, ExpenseDocument
from housing.building_money.service import (
    ExpenseInput,
    lock_building,
    record_expense,
    require_bookkeeper,
    require_open_quarter,
)
from housing.errors import Conflict, Invalid, NotFound
from housing.validation import check_text

TITLE_CHARS = 200
MAX_DOCUMENTS = 20  # per expense: an act, an invoice and photos of the work are a handful


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: its bytes (at most the limit + 1, read by the route) and its name."""

    data: bytes
    filename: str = ""


def _title(title: Any, filename: Any) -> str:
    text = title if isinstance(title, str) and title.strip() else filename
    if not isinstance(text, str):
        return ""
    try:
        text = check_text(text).strip()
    except ValueError as exc:
        raise Invalid(str(exc), field="title") from None
    return text[:TITLE_CHARS]


def _parts(session: Session, expense: BuildingExpense) -> list[BuildingExpense]:
    """The expense, or every part of the shared expense it is a part of, in building order."""
    if expense.shared_expense_id is None:
        return [expense]
    return list(
        session.exec(
            select(BuildingExpense)
            .where(BuildingExpense.shared_expense_id == expense.shared_expense_id)
            .order_by(BuildingExpense.building_id)
        ).all()
    )


def attach_expense_document(
    session: Session,
    actor: Actor,
    *,
    expense_id: int,
    upload: Upload,
    title: str = "",
    settings: Any,
    today: date,
) -> ExpenseDocument:
    """Stores the file and lists it under the expense (under every part of a shared one).

    Returns the row under `expense_id`. Refused: not an image or a PDF (415), too large (413),
    a quarter already published (409), more than MAX_DOCUMENTS on the expense (409).
    """
    expense = session.get(BuildingExpense, expense_id) if _is_id(expense_id) else None
    if expense is None:
        raise NotFound(f"expense {expense_id} not found")
    parts = _parts(session, expense)
    for part in parts:  # in building order, like a shared expense's booking, so writers lock alike
        lock_building(session, part.building_id)
        require_bookkeeper(session, actor, part.building_id, part.spent_on)
        require_open_quarter(session, part.building_id, part.spent_on, field="file")
    attached = session.exec(
        select(func.count()).select_from(ExpenseDocument).where(ExpenseDocument.expense_id == expense.id)
    ).one()
    if attached >= MAX_DOCUMENTS:
        raise Conflict(f"an expense has at most {MAX_DOCUMENTS} documents")
    name = _title(title, upload.filename)
    group = settings.money
    stored = filestore.store(
        group.document_dir,
        f"e{expense.shared_expense_id or expense.id}{'s' if expense.shared_expense_id else ''}",
        upload.data,
        max_bytes=group.max_document_bytes,
        field="file",
    )
    rows = [
        ExpenseDocument(
            expense_id=part.id,
            title=name or stored.name,
            stored_name=stored.name,
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            created_by_id=actor.user_id,
        )
        for part in parts
    ]
    session.add_all(rows)
    session.flush()
    return next(row for row in rows if row.expense_id == expense.id)


def record_documented_expense(
    session: Session,
    actor: Actor,
    *,
    building_id: int,
    expense: ExpenseInput,
    today: date,
    request_ids: list[int],
    upload: Upload | None,
    title: str = "",
    settings: Any,
) -> BuildingExpense:
    """The console's form: an expense and its document in one go; a bad file books nothing
    (the caller rolls back on any refusal)."""
    if upload is not None:  # judged before the expense is booked, so the form says why first
        filestore.inspect(upload.data, max_bytes=settings.money.max_document_bytes, field="file")
    row = record_expense(
        session, actor, building_id=building_id, expense=expense, today=today, request_ids=request_ids
    )
    if upload is not None:
        attach_expense_document(
            session, actor, expense_id=row.id, upload=upload, title=title, settings=settings, today=today
        )
    return row


def documents_of(session: Session, expense_ids: list[int]) -> dict[int, list[ExpenseDocument]]:
    """Each expense's documents, oldest first; one query for a page of expenses."""
    found: dict[int, list[ExpenseDocument]] = {i: [] for i in expense_ids}
    if expense_ids:
        rows = session.exec(
            select(ExpenseDocument)
            .where(col(ExpenseDocument.expense_id).in_(expense_ids))
            .order_by(ExpenseDocument.id)
        )
        for row in rows:
            found[row.expense_id].append(row)
    return found


def read_expense_document(document: ExpenseDocument, *, settings: Any) -> bytes:
    return filestore.read(settings.money.document_dir, document.stored_name)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31
