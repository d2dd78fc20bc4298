"""A bank statement as CSV: the payments residents made at a bank, booked all at once.

Every row is checked before anything is written; a reference already booked is skipped.
The columns and rules are in docs/payments.md ("Bank statements").
"""

from dataclasses import dataclass
from datetime import date
from typing import TextIO

from sqlalchemy import Select
from sqlmodel import Session, col, select

from billing.models import Gateway
from billing.payments.service import manual_payment, noon_utc, record_manual_payment
from housing.csvfile import CsvRow, ImportRejected, ImportRowError, read_rows, row_error, tiyin_cell
from housing.registry.models import Apartment

COLUMNS = ("date", "account_number", "amount", "reference", "payer")
REQUIRED = ("date", "account_number", "amount", "reference")
MAX_ROWS = 100_000


@dataclass
class StatementRow(CsvRow):
    paid_on: date | None = None
    apartment_id: int | None = None
    amount_minor: int = 0
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class StatementResult:
    recorded: int
    already_recorded: int
    total_minor: int


def import_bank_statement(
    session: Session, stream: TextIO, *, apartments: Select, user_id: int | None, today: date
) -> StatementResult:
    """Books every row as a bank payment, or none; `apartments` is what the importer may book to."""
    rows = read_rows(
        stream,
        row_type=StatementRow,
        columns=COLUMNS,
        required=REQUIRED,
        max_rows=MAX_ROWS,
        decimal_columns=("amount",),
    )
    accounts = {r.cells.get("account_number") for r in rows} - {None}
    known = dict(
        session.exec(
            select(Apartment.account_number, Apartment.id).where(
                col(Apartment.account_number).in_(accounts),
                col(Apartment.id).in_(apartments.with_only_columns(Apartment.id)),
            )
        ).all()
    )
    errors: list[ImportRowError] = []
    seen: dict[str, int] = {}
    for row in rows:
        errors += _check(session, row, known, seen, today)
    if errors:
        raise ImportRejected(errors)
    recorded = total = 0
    for row in rows:
        if row.duplicate:
            continue
        assert row.apartment_id is not None and row.paid_on is not None
        record_manual_payment(
            session,
            apartment_id=row.apartment_id,
            amount_minor=row.amount_minor,
            gateway=Gateway.bank,
            reference=row.cells["reference"] or "",
            paid_at=noon_utc(row.paid_on),
            user_id=user_id,
        )
        recorded += 1
        total += row.amount_minor
    return StatementResult(recorded=recorded, already_recorded=len(rows) - recorded, total_minor=total)


def _check(
    session: Session, row: StatementRow, known: dict[str, int], seen: dict[str, int], today: date
) -> list[ImportRowError]:
    errors = []
    if row.extra:
        errors.append(row_error(row.line, None, f"cells outside the named columns: {row.extra}"))
    for name in REQUIRED:
        if row.cells.get(name) is None:
            errors.append(row_error(row.line, name, "required"))
    if errors:
        return errors
    try:
        row.paid_on = date.fromisoformat(row.cells["date"] or "")
        if row.paid_on > today:
            errors.append(row_error(row.line, "date", f"{row.paid_on} is in the future"))
    except ValueError:
        errors.append(row_error(row.line, "date", "not a date as YYYY-MM-DD"))
    row.amount_minor = tiyin_cell(row.cells["amount"] or "")
    if not row.amount_minor:
        errors.append(row_error(row.line, "amount", "not an amount of UZS above 0 with at most 2 decimals"))
    account = row.cells["account_number"] or ""
    row.apartment_id = known.get(account)
    if row.apartment_id is None:
        errors.append(row_error(row.line, "account_number", f"no apartment of yours has account {account}"))
    reference = row.cells["reference"] or ""
    if reference in seen:
        errors.append(row_error(row.line, "reference", f"repeats the reference of line {seen[reference]}"))
    seen.setdefault(reference, row.line)
    if errors:
        return errors
    earlier = manual_payment(session, Gateway.bank, reference)
    if earlier is not None:
        if earlier.apartment_id == row.apartment_id and earlier.amount_minor == row.amount_minor:
            row.duplicate = True
        else:
            errors.append(
                row_error(
                    row.line,
                    "reference",
                    f"already booked as payment {earlier.id} with another account or amount",
                )
            )
    return errors
