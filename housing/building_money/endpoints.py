"""JSON routes of a building's expenses: list and book them, share one among buildings, correct
one, attach and download their documents, import a bank statement of the building's account.

Reading follows `housing.building_money.queries` (the building's residents, its company's staff,
admins, officials; 404 outside); writing is the service's rule (the managing company's managers
and admins; officials and residents 403, another company's building 404).
"""

import io
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import Response
from sqlmodel import Session, col, select

from housing.auth import CurrentActor
from housing.building_money import documents, reading, service
from housing.building_money.models import BuildingExpense, ExpenseDocument, SharedExpense
from housing.building_money.queries import require_money_reader
from housing.building_money.rules import asked_quarter
from housing.building_money.schemas import (
    CorrectionCreate,
    DocumentRead,
    ExpenseCreate,
    ExpenseRead,
    ExpenseStatementReport,
    SharedExpenseCreate,
    SharedExpenseRead,
)
from housing.building_money.statement import MAX_STATEMENT_BYTES, import_expense_statement
from housing.csvfile import decode_upload
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Invalid
from housing.routing import Paging
from housing.schemas import API_PROBLEMS, Page, problems
from housing.validation import Id, Text

QUARTER_PATTERN = r"^\d{4}-Q[1-4]$"

router = APIRouter(tags=["building money"], responses=API_PROBLEMS)

WRITE = problems(409, why={409: "The quarter's report is published and frozen: book a correction"})
UPLOAD = problems(409, 413, 415)
QuarterQuery = Annotated[
    Text | None, Query(pattern=QUARTER_PATTERN, description="Only those dated in this quarter, e.g. 2026-Q3")
]


def document_read(document: ExpenseDocument) -> dict[str, Any]:
    return {
        "id": document.id,
        "expense_id": document.expense_id,
        "title": document.title,
        "content_type": document.content_type,
        "size_bytes": document.size_bytes,
        "created_at": document.created_at,
        "url": f"/api/v1/expense-documents/{document.id}",
    }


def expense_read(view: reading.ExpenseView) -> dict[str, Any]:
    expense = view.expense
    fields = {column.name: getattr(expense, column.name) for column in BuildingExpense.__table__.columns}
    return {
        **fields,
        "standing_minor": view.standing_minor,
        "request_ids": view.request_ids,
        "documents": [document_read(d) for d in view.documents],
        "corrections": [
            {"id": c.id, "spent_on": c.spent_on, "amount_minor": c.amount_minor, "description": c.description}
            for c in view.corrections
        ],
    }


def _one(session: Session, expense: BuildingExpense) -> dict[str, Any]:
    return expense_read(reading.views_of(session, [expense])[0])


def _shared_read(session: Session, shared: SharedExpense) -> dict[str, Any]:
    parts = session.exec(
        select(BuildingExpense)
        .where(BuildingExpense.shared_expense_id == shared.id)
        .order_by(col(BuildingExpense.building_id))
    ).all()
    return {
        **{column.name: getattr(shared, column.name) for column in SharedExpense.__table__.columns},
        "parts": [
            {
                "expense_id": p.id,
                "building_id": p.building_id,
                "amount_minor": p.amount_minor,
                "weight": shared.weights.get(str(p.building_id), ""),
            }
            for p in parts
        ],
    }


@router.get("/buildings/{building_id}/expenses", response_model=Page[ExpenseRead])
def list_expenses(
    building_id: Id,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    quarter: QuarterQuery = None,
):
    """The building's expenses, the latest first, with their documents, requests and corrections."""
    require_money_reader(session, actor, building_id, today)
    views, total = reading.expense_page(
        session,
        building_id,
        None if quarter is None else asked_quarter(quarter),
        limit=paging.limit,
        offset=paging.offset,
    )
    return {
        "items": [expense_read(v) for v in views],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


def _expense_input(body: ExpenseCreate | SharedExpenseCreate) -> service.ExpenseInput:
    """What the service books of a posted expense, one building's or shared."""
    return service.ExpenseInput(
        spent_on=body.spent_on,
        category=body.category,
        amount_minor=body.amount_minor,
        supplier=body.supplier,
        description=body.description,
    )


@router.post(
    "/buildings/{building_id}/expenses",
    response_model=ExpenseRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
def book_expense(
    building_id: Id, body: ExpenseCreate, session: SessionDep, actor: CurrentActor, today: Today
):
    """The managing company's manager (or an admin) books what it spent on the building."""
    expense = service.record_expense(
        session,
        actor,
        building_id=building_id,
        expense=_expense_input(body),
        today=today,
        request_ids=body.request_ids,
    )
    return _one(session, expense)


@router.post(
    "/shared-expenses",
    response_model=SharedExpenseRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
def book_shared_expense(body: SharedExpenseCreate, session: SessionDep, actor: CurrentActor, today: Today):
    """One bill for several buildings of one company, split exactly to the tiyin (all parts or none)."""
    weights = {w.building_id: w.weight for w in body.weights}
    if len(weights) != len(body.weights):
        raise Invalid("each building's weight once", field="weights")
    shared = service.record_shared_expense(
        session,
        actor,
        building_ids=body.building_ids,
        expense=_expense_input(body),
        today=today,
        split_key=body.split_key,
        weights=weights or None,
        split_note=body.split_note,
    )
    return _shared_read(session, shared)


@router.get("/expenses/{expense_id}", response_model=ExpenseRead)
def read_expense(expense_id: Id, session: SessionDep, actor: CurrentActor, today: Today):
    return _one(session, reading.expense_of(session, actor, expense_id, today))


@router.post(
    "/expenses/{expense_id}/corrections",
    response_model=ExpenseRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
def correct_expense(
    expense_id: Id, body: CorrectionCreate, session: SessionDep, actor: CurrentActor, today: Today
):
    """A new expense dated today adding `amount_minor` to this one; the original stays as it was."""
    reading.expense_of(session, actor, expense_id, today)  # outside the actor's sight: 404
    correction = service.correct_expense(
        session, actor, expense_id=expense_id, amount_minor=body.amount_minor, reason=body.reason, today=today
    )
    return _one(session, correction)


@router.get("/expenses/{expense_id}/documents", response_model=list[DocumentRead])
def list_documents(expense_id: Id, session: SessionDep, actor: CurrentActor, today: Today):
    expense = reading.expense_of(session, actor, expense_id, today)
    assert expense.id is not None
    return [document_read(d) for d in documents.documents_of(session, [expense.id])[expense.id]]


@router.post(
    "/expenses/{expense_id}/documents",
    response_model=ExpenseRead,
    status_code=status.HTTP_201_CREATED,
    responses=UPLOAD,
)
def attach_document(
    expense_id: Id,
    file: Annotated[
        UploadFile, File(description="The act, invoice or photo: a PDF, or a JPEG, PNG or WebP image")
    ],
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
    title: Annotated[Text, Form(max_length=documents.TITLE_CHARS)] = "",
):
    """A document behind the expense; on a shared expense it is listed under every part."""
    reading.expense_of(session, actor, expense_id, today)
    documents.attach_expense_document(
        session,
        actor,
        expense_id=expense_id,
        upload=documents.Upload(
            file.file.read(settings.money.max_document_bytes + 1), _plain_name(file.filename)
        ),
        title=title,
        settings=settings,
        today=today,
    )
    return _one(session, reading.expense_of(session, actor, expense_id, today))


def _plain_name(name: str | None) -> str:
    """The uploaded file's own name, without a client's folder path, for a default title."""
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1]


@router.get(
    "/expense-documents/{expense_document_id}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/*": {}}, "description": "The document"}},
)
def download_document(
    expense_document_id: Id, session: SessionDep, actor: CurrentActor, settings: SettingsDep, today: Today
):
    """The file, for whoever reads the building's money (its residents too)."""
    document = reading.document_of(session, actor, expense_document_id, today)
    data = documents.read_expense_document(document, settings=settings)
    # A download under its checked type, so a browser never runs it as a page.
    return Response(
        data,
        media_type=document.content_type,
        headers={"Content-Disposition": f'attachment; filename="{document.stored_name}"'},
    )


@router.post(
    "/buildings/{building_id}/expenses/import",
    response_model=ExpenseStatementReport,
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        409, 422, why={422: "The file has bad rows; `errors` lists each with its line; nothing booked"}
    ),
)
def import_statement(
    building_id: Id,
    file: Annotated[
        UploadFile, File(description="CSV: date, amount, category, reference[, supplier, description]")
    ],
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
):
    """Books a bank statement of the building's account as its expenses, all rows or none."""
    text = decode_upload(file.file.read(MAX_STATEMENT_BYTES + 1), MAX_STATEMENT_BYTES)
    result = import_expense_statement(
        session, actor, io.StringIO(text, newline=""), building_id=building_id, today=today
    )
    return ExpenseStatementReport(
        recorded=result.recorded, already_recorded=result.already_recorded, total_minor=result.total_minor
    )
