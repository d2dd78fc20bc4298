"""HTML routes of a building's expenses in the company console (`/console/money`): the company's
buildings with this quarter's expenses, one building's expenses by quarter (book one with its
document and the requests it answered, correct one, attach a document, import a bank
statement), and the form of an expense shared by several buildings.

Company staff see their company's buildings, admins every building; the forms are for the
managing company's managers and admins (the service refuses anyone else). Each form posts, then
redirects (303) back to the building's quarter, or shows the page again with the reason.
"""

import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from housing.actors import BOOKKEEPERS, Actor
from housing.auth import StaffActor, require_roles
from housing.building_money import documents, forms, reading, service
from housing.building_money.models import BuildingExpense
from housing.building_money.queries import readable_buildings, require_money_reader
from housing.building_money.rules import ExpenseCategory, Quarter, SplitKey
from housing.building_money.statement import MAX_STATEMENT_BYTES, import_expense_statement
from housing.csvfile import ImportRejected, decode_upload
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import DomainError
from housing.registry.models import Building, ManagementCompany
from housing.registry.queries import managed_building_ids
from housing.routing import page_of
from housing.settings import Settings
from housing.validation import Id, PageNumber, Text, parse_day, parse_id, typed_tiyin
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)
BookkeeperActor = Annotated[Actor, Depends(require_roles(BOOKKEEPERS))]

PAGE_SIZE = 50
EXPENSES_PAGE = 100  # a quarter of a building with an imported statement may have more
SHOWN_LINE_ERRORS = 100  # a refused statement's first bad lines; the API lists all
MAX_BUILDINGS = service.MAX_SHARED_BUILDINGS
QuarterText = Annotated[Text, Query(max_length=10)]


@router.get("/console/money", response_class=HTMLResponse)
def buildings(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    page: PageNumber = 1,
    shared: QuarterText = "",
) -> Response:
    quarter = Quarter.of(today)
    query = readable_buildings(actor, today)
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = list(
        session.exec(
            query.order_by(col(Building.address), col(Building.id))
            .limit(PAGE_SIZE)
            .offset((paging["page"] - 1) * PAGE_SIZE)
        ).all()
    )
    totals = reading.quarter_totals(session, [b.id for b in rows], quarter)
    return render(
        request,
        "money/console_expenses.html",
        actor=actor,
        rows=[(b, *totals[b.id]) for b in rows],
        quarter=quarter,
        paging=paging,
        may_book=actor.role in BOOKKEEPERS,
        shared_booked=bool(shared),
    )


def _building_page(
    request: Request,
    session: Session,
    actor: Actor,
    building: Building,
    quarter: Quarter,
    settings: Settings,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    line_errors: list[Any] | None = None,
    done: str = "",
    page: int = 1,
    status_code: int = 200,
) -> Response:
    _ = gettext_for(request, actor)
    query = reading.building_expenses(building.id, quarter)
    paging = page_of(session, query, page, EXPENSES_PAGE)
    views, _total = reading.expense_page(
        session, building.id, quarter, limit=EXPENSES_PAGE, offset=(paging["page"] - 1) * EXPENSES_PAGE
    )
    published = service.published_quarters(session, building.id)
    return render(
        request,
        "money/console_expenses_building.html",
        status_code=status_code,
        actor=actor,
        building=building,
        quarter=quarter,
        views=views,
        paging=paging,
        total_minor=reading.quarter_totals(session, [building.id], quarter)[building.id][0],
        published=quarter in published,
        categories=list(ExpenseCategory),
        may_book=actor.role in BOOKKEEPERS,
        errors=errors or {},
        typed=typed or {},
        line_errors=(line_errors or [])[:SHOWN_LINE_ERRORS],
        more_line_errors=max(0, len(line_errors or []) - SHOWN_LINE_ERRORS),
        notice=forms.notice(done, _),
        max_file_mb=settings.money.max_document_bytes // (1024 * 1024),
    )


@router.get("/console/money/buildings/{building_id}", response_class=HTMLResponse)
def building_expenses(
    request: Request,
    building_id: Id,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    quarter: QuarterText = "",
    done: Annotated[Text, Query(max_length=20)] = "",
    page: PageNumber = 1,
) -> Response:
    building = require_money_reader(session, actor, building_id, today)
    return _building_page(
        request,
        session,
        actor,
        building,
        forms.quarter_or_now(quarter, today),
        settings,
        done=done,
        page=page,
    )


def _back(building_id: int, day: date, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"/console/money/buildings/{building_id}?quarter={Quarter.of(day)}&done={done}", status_code=303
    )


def _expense_fields(
    _: Any, errors: dict[str, str], spent_on: str, category: str, amount: str
) -> tuple[date | None, int | None]:
    """The day and amount (tiyin) of an expense form; what is wrong goes into `errors`."""
    day = parse_day(spent_on)
    if day is None:
        errors["spent_on"] = _("Give the day it was paid.")
    if category not in ExpenseCategory.__members__:
        errors["category"] = _("Choose a category.")
    amount_minor = typed_tiyin(amount)
    if amount_minor is None:
        errors["amount"] = _("Give an amount in UZS above zero, with at most 2 decimals.")
    return day, amount_minor


def _expense_building(
    session: Session, actor: Actor, expense_id: int, today: date
) -> tuple[BuildingExpense, Building]:
    """The expense (404 unless `actor` reads its building's money) and its building."""
    expense = reading.expense_of(session, actor, expense_id, today)
    return expense, require_money_reader(session, actor, expense.building_id, today)


def _expense_refused(
    request: Request,
    session: Session,
    actor: Actor,
    building: Building,
    spent_on: date,
    settings: Settings,
    errors: dict[str, str],
) -> Response:
    """The building's quarter of the expense again (422), with why the form was refused."""
    return _building_page(
        request, session, actor, building, Quarter.of(spent_on), settings, errors=errors, status_code=422
    )


@router.post("/console/money/buildings/{building_id}/expenses", response_class=HTMLResponse)
def book_expense(
    request: Request,
    building_id: Id,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    spent_on: Annotated[Text, Form(max_length=20)] = "",
    category: Annotated[Text, Form(max_length=40)] = "",
    amount: Annotated[Text, Form(max_length=40)] = "",
    supplier: Annotated[Text, Form(max_length=service.SUPPLIER_CHARS * 2)] = "",
    description: Annotated[Text, Form(max_length=service.DESCRIPTION_CHARS * 2)] = "",
    request_ids: Annotated[Text, Form(max_length=1000)] = "",
    title: Annotated[Text, Form(max_length=documents.TITLE_CHARS * 2)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _ = gettext_for(request, actor)
    building = require_money_reader(session, actor, building_id, today)
    typed = {"spent_on": spent_on, "category": category, "amount": amount, "supplier": supplier}
    typed |= {"description": description, "request_ids": request_ids, "title": title}
    errors: dict[str, str] = {}
    day, amount_minor = _expense_fields(_, errors, spent_on, category, amount)
    linked = forms.request_ids(request_ids)
    if linked is None:
        errors["request_ids"] = _(
            "Write request numbers separated by commas, e.g. 12, 15; or leave it empty."
        )
    if not errors:
        assert day is not None and amount_minor is not None and linked is not None
        try:
            documents.record_documented_expense(
                session,
                actor,
                building_id=building.id,
                expense=service.ExpenseInput(day, category, amount_minor, supplier, description),
                today=today,
                request_ids=linked,
                upload=forms.upload_of(file, settings),
                title=title,
                settings=settings,
            )
        except DomainError as error:
            session.rollback()  # a refused document books no expense
            errors[forms.form_field(error.field)] = forms.refusal(error, _, settings)
        else:
            return _back(building.id, day, "booked")
    quarter = Quarter.of(day) if day else Quarter.of(today)
    return _building_page(
        request, session, actor, building, quarter, settings, errors=errors, typed=typed, status_code=422
    )


@router.post("/console/money/expenses/{expense_id}/corrections", response_class=HTMLResponse)
def correct_expense(
    request: Request,
    expense_id: Id,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    amount: Annotated[Text, Form(max_length=40)] = "",
    reason: Annotated[Text, Form(max_length=service.DESCRIPTION_CHARS * 2)] = "",
) -> Response:
    _ = gettext_for(request, actor)
    expense, building = _expense_building(session, actor, expense_id, today)
    errors: dict[str, str] = {}
    amount_minor = typed_tiyin(amount, signed=True)
    if amount_minor is None:
        errors[f"correct-{expense_id}"] = _("Give the change in UZS, e.g. -1500.50 or 2000; not zero.")
    elif not reason.strip():
        errors[f"correct-{expense_id}"] = _("Say why the expense is corrected.")
    else:
        try:
            service.correct_expense(
                session, actor, expense_id=expense_id, amount_minor=amount_minor, reason=reason, today=today
            )
        except DomainError as error:
            session.rollback()
            errors[f"correct-{expense_id}"] = forms.refusal(error, _, settings)
        else:
            return _back(building.id, today, "corrected")
    return _expense_refused(request, session, actor, building, expense.spent_on, settings, errors)


@router.post("/console/money/expenses/{expense_id}/documents", response_class=HTMLResponse)
def attach_document(
    request: Request,
    expense_id: Id,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    title: Annotated[Text, Form(max_length=documents.TITLE_CHARS * 2)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _ = gettext_for(request, actor)
    expense, building = _expense_building(session, actor, expense_id, today)
    upload = forms.upload_of(file, settings)
    key = f"document-{expense_id}"
    errors: dict[str, str] = {}
    if upload is None:
        errors[key] = _("Choose the file.")
    else:
        try:
            documents.attach_expense_document(
                session,
                actor,
                expense_id=expense_id,
                upload=upload,
                title=title,
                settings=settings,
                today=today,
            )
        except DomainError as error:
            session.rollback()
            errors[key] = forms.refusal(error, _, settings)
        else:
            return _back(building.id, expense.spent_on, "attached")
    return _expense_refused(request, session, actor, building, expense.spent_on, settings, errors)


@router.post("/console/money/buildings/{building_id}/import", response_class=HTMLResponse)
def import_statement(
    request: Request,
    building_id: Id,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _ = gettext_for(request, actor)
    building = require_money_reader(session, actor, building_id, today)
    errors: dict[str, str] = {}
    line_errors: list[Any] = []
    if file is None or not file.filename:
        errors["import"] = _("Choose the statement's CSV file.")
    else:
        try:
            text = decode_upload(file.file.read(MAX_STATEMENT_BYTES + 1), MAX_STATEMENT_BYTES)
            result = import_expense_statement(
                session, actor, _stream(text), building_id=building.id, today=today
            )
        except ImportRejected as rejected:
            session.rollback()
            errors["import"] = _("Nothing was imported; fix these lines and import the file again.")
            line_errors = rejected.errors
        except DomainError as error:
            session.rollback()
            errors["import"] = forms.refusal(error, _, settings)
        else:
            return RedirectResponse(
                f"/console/money/buildings/{building.id}?done=imported-{result.recorded}-{result.already_recorded}",
                status_code=303,
            )
    return _building_page(
        request,
        session,
        actor,
        building,
        Quarter.of(today),
        settings,
        errors=errors,
        line_errors=line_errors,
        status_code=422,
    )


def _stream(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


# The shared expense


def _company_buildings(session: Session, company_id: int | None, today: date) -> list[tuple[int, str]]:
    """The buildings a shared expense may be split among: those the company manages today, by address."""
    if company_id is None:
        return []
    rows = session.exec(
        select(Building.id, Building.address)
        .where(col(Building.id).in_(managed_building_ids(company_id, today)))
        .order_by(col(Building.address), col(Building.id))
        .limit(MAX_BUILDINGS)
    ).all()
    return [(i, address) for i, address in rows]


def _shared_form(
    request: Request,
    session: Session,
    actor: Actor,
    today: date,
    company_id: int | None,
    *,
    typed: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    # An admin belongs to no company: they choose one first (the city's 900+ fit one list).
    companies = (
        session.exec(
            select(ManagementCompany.id, ManagementCompany.name)
            .order_by(col(ManagementCompany.name), col(ManagementCompany.id))
            .limit(MAX_BUILDINGS)
        ).all()
        if actor.company_id is None
        else []
    )
    return render(
        request,
        "money/console_expenses_shared.html",
        status_code=status_code,
        actor=actor,
        company_id=company_id,
        companies=companies,
        buildings=_company_buildings(session, company_id, today),
        categories=list(ExpenseCategory),
        keys=list(SplitKey),
        typed=typed,
        errors=errors,
    )


@router.get("/console/money/shared", response_class=HTMLResponse)
def new_shared_expense(
    request: Request,
    session: SessionDep,
    actor: BookkeeperActor,
    today: Today,
    company_id: Annotated[Id | None, Query()] = None,
) -> Response:
    typed = {"split_key": SplitKey.area.value, "spent_on": today.isoformat()}
    company = actor.company_id or company_id
    return _shared_form(request, session, actor, today, company, typed=typed, errors={})


@router.post("/console/money/shared", response_class=HTMLResponse)
def book_shared_expense(
    request: Request,
    session: SessionDep,
    actor: BookkeeperActor,
    settings: SettingsDep,
    today: Today,
    building_ids: Annotated[list[Text], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    company_id: Annotated[Text, Form(max_length=12)] = "",
    spent_on: Annotated[Text, Form(max_length=20)] = "",
    category: Annotated[Text, Form(max_length=40)] = "",
    amount: Annotated[Text, Form(max_length=40)] = "",
    supplier: Annotated[Text, Form(max_length=service.SUPPLIER_CHARS * 2)] = "",
    description: Annotated[Text, Form(max_length=service.DESCRIPTION_CHARS * 2)] = "",
    split_key: Annotated[Text, Form(max_length=20)] = "",
    weights: Annotated[Text, Form(max_length=50_000)] = "",
    split_note: Annotated[Text, Form(max_length=1000)] = "",
) -> Response:
    _ = gettext_for(request, actor)
    chosen = [parse_id(b) for b in building_ids[: MAX_BUILDINGS + 1]]
    typed: dict[str, Any] = {"building_ids": building_ids[:MAX_BUILDINGS], "weights": weights}
    typed |= {"spent_on": spent_on, "category": category, "amount": amount, "supplier": supplier}
    typed |= {"description": description, "split_key": split_key, "split_note": split_note}
    errors: dict[str, str] = {}
    ids = [i for i in chosen if i is not None]
    if None in chosen or len(set(ids)) < 2:
        errors["building_ids"] = _("Choose at least two buildings.")
    day, amount_minor = _expense_fields(_, errors, spent_on, category, amount)
    if split_key not in SplitKey.__members__:
        errors["split_key"] = _("Choose how it is split.")
    manual = forms.manual_weights(weights) if split_key == SplitKey.manual else None
    if split_key == SplitKey.manual and manual is None:
        errors["weights"] = _("Write one line per building: its number, =, its weight; e.g. 12 = 1.5")
    if not errors:
        assert day is not None and amount_minor is not None
        try:
            service.record_shared_expense(
                session,
                actor,
                building_ids=ids,
                expense=service.ExpenseInput(day, category, amount_minor, supplier, description),
                today=today,
                split_key=split_key,
                weights=manual,
                split_note=split_note,
            )
        except DomainError as error:
            session.rollback()
            errors[forms.form_field(error.field)] = forms.refusal(error, _, settings)
        else:
            return RedirectResponse(f"/console/money?shared={Quarter.of(day)}", status_code=303)
    company = actor.company_id or parse_id(company_id)
    return _shared_form(request, session, actor, today, company, typed=typed, errors=errors, status_code=422)
