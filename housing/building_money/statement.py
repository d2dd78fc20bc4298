"""A bank statement of a building's account as CSV: what the company paid for the building, booked
as its expenses all at once.

The same import rules as residents' bank payments (`billing/payments/statement.py`): every row is
checked before anything is written, and every bad line is named; one bad line and nothing is
booked. Columns: date (YYYY-MM-DD), amount (UZS above 0, at most 2 decimals), category,
supplier, reference (the bank's, unique on the building), description; supplier and description
may be empty.

A reference already booked on the building with the same amount is skipped, so a statement
imported twice books once; with another amount it is refused (the bank does not reuse a
reference: one of the two is wrong). A row dated in a quarter whose report is published is
refused by line, and so is one on a day another company managed the building.
"""

from dataclasses import dataclass
from datetime import date
from typing import TextIO

from sqlmodel import Session, col, select

from housing.accounts.models import Role
from housing.actors import BOOKKEEPERS, Actor
from housing.building_money.models import BuildingExpense
from housing.building_money.queries import require_money_reader
from housing.building_money.rules import ExpenseCategory, Quarter
from housing.building_money.service import (
    DESCRIPTION_CHARS,
    SUPPLIER_CHARS,
    ExpenseInput,
    company_managing,
    lock_building,
    published_quarters,
    record_expense,
)
from housing.csvfile import (
    CsvRow,
    ImportRejected,
    ImportRowError,
    cell_errors,
    read_rows,
    row_error,
    tiyin_cell,
)
from housing.errors import Forbidden

COLUMNS = ("date", "amount", "category", "supplier", "reference", "description")
REQUIRED = ("date", "amount", "category", "reference")
MAX_STATEMENT_BYTES = 16 * 1024 * 1024  # an upload beyond this is refused before it is read
MAX_ROWS = 10_000  # a building's account for years; a larger file is split
REFERENCE_CHARS = 200


@dataclass
class ExpenseRow(CsvRow):
    spent_on: date | None = None
    amount_minor: int = 0
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class ExpenseStatementResult:
    recorded: int
    already_recorded: int
    total_minor: int


def import_expense_statement(
    session: Session, actor: Actor, stream: TextIO, *, building_id: int, today: date
) -> ExpenseStatementResult:
    """Books every row as an expense of the building, or none (ImportRejected naming each bad line)."""
    require_money_reader(session, actor, building_id, today)  # another company's building: 404
    if actor.role not in BOOKKEEPERS:
        raise Forbidden("only the managing company's managers and admins book a building's money")
    rows = read_rows(
        stream,
        row_type=ExpenseRow,
        columns=COLUMNS,
        required=REQUIRED,
        max_rows=MAX_ROWS,
        decimal_columns=("amount",),
    )
    lock_building(session, building_id)  # the quarters checked below stay open until the commit
    published = published_quarters(session, building_id)
    booked = dict(
        session.exec(
            select(BuildingExpense.bank_reference, BuildingExpense.amount_minor).where(
                BuildingExpense.building_id == building_id,
                col(BuildingExpense.bank_reference).in_({r.cells.get("reference") for r in rows} - {None}),
            )
        ).all()
    )
    managers: dict[date, int | None] = {}
    errors: list[ImportRowError] = []
    seen: dict[str, int] = {}
    for row in rows:
        errors += _check(row, today, seen, booked, published)
        if row.spent_on is not None and not row.duplicate:
            errors += _check_company(session, actor, row, building_id, managers)
    if errors:
        raise ImportRejected(errors)
    recorded = total = 0
    for row in rows:
        if row.duplicate:
            continue
        assert row.spent_on is not None
        record_expense(
            session,
            actor,
            building_id=building_id,
            expense=ExpenseInput(
                spent_on=row.spent_on,
                category=row.cells["category"] or "",
                amount_minor=row.amount_minor,
                supplier=row.cells.get("supplier") or "",
                description=row.cells.get("description") or "",
            ),
            today=today,
            bank_reference=row.cells["reference"],
        )
        recorded += 1
        total += row.amount_minor
    return ExpenseStatementResult(recorded=recorded, already_recorded=len(rows) - recorded, total_minor=total)


def _check(
    row: ExpenseRow,
    today: date,
    seen: dict[str, int],
    booked: dict[str | None, int],
    published: set[Quarter],
) -> list[ImportRowError]:
    errors = cell_errors(
        row,
        REQUIRED,
        (("supplier", SUPPLIER_CHARS), ("description", DESCRIPTION_CHARS), ("reference", REFERENCE_CHARS)),
    )
    if errors:
        return errors
    row.amount_minor = tiyin_cell(row.cells["amount"] or "")
    if not row.amount_minor:
        errors.append(row_error(row.line, "amount", "not an amount of UZS above 0 with at most 2 decimals"))
    # A row booked before (same reference and amount) is skipped even in a quarter published since.
    booked_before = booked.get(row.cells["reference"]) == row.amount_minor
    try:
        row.spent_on = date.fromisoformat(row.cells["date"] or "")
        if row.spent_on > today:
            errors.append(row_error(row.line, "date", f"{row.spent_on} is in the future"))
        elif row.spent_on.year < 2000:
            errors.append(row_error(row.line, "date", f"{row.spent_on} is before any building's account"))
        elif Quarter.of(row.spent_on) in published and not booked_before:
            quarter = Quarter.of(row.spent_on)
            errors.append(
                row_error(row.line, "date", f"the report on {quarter} is published; that quarter is closed")
            )
    except ValueError:
        errors.append(row_error(row.line, "date", "not a date as YYYY-MM-DD"))
    category = row.cells["category"] or ""
    if category not in ExpenseCategory.__members__:
        errors.append(
            row_error(
                row.line,
                "category",
                f"no category {category[:40]!r}; the categories are {', '.join(ExpenseCategory)}",
            )
        )
    reference = row.cells["reference"] or ""
    if reference in seen:
        errors.append(row_error(row.line, "reference", f"repeats the reference of line {seen[reference]}"))
    seen.setdefault(reference, row.line)
    if errors:
        row.spent_on = None
        return errors
    if reference in booked:
        if booked[reference] == row.amount_minor:
            row.duplicate = True
        else:
            errors.append(
                row_error(
                    row.line,
                    "reference",
                    f"already booked on this building with another amount ({booked[reference]} tiyin)",
                )
            )
    return errors


def _check_company(
    session: Session, actor: Actor, row: ExpenseRow, building_id: int, managers: dict[date, int | None]
) -> list[ImportRowError]:
    """The row's day was one the actor's company managed the building (admins: any company)."""
    assert row.spent_on is not None
    if row.spent_on not in managers:
        managers[row.spent_on] = company_managing(session, building_id, row.spent_on)
    company_id = managers[row.spent_on]
    if company_id is None:
        return [row_error(row.line, "date", f"no company managed the building on {row.spent_on}")]
    if actor.role is not Role.admin and company_id != actor.company_id:
        return [row_error(row.line, "date", f"your company did not manage the building on {row.spent_on}")]
    return []
