"""A provider's statement file (Payme's or Click's registry of transactions) as CSV, imported all at once.

Kept apart from our payments: its lines are what the provider says happened, stored as
`ProviderStatementLine` and compared by the reconciliation, never booked. Every row is
checked before anything is written and every bad line is named; one bad line and nothing is
imported. After the import the days it covers (and the days of our transactions it names)
are reconciled again, in the same transaction. The columns and rules are in
docs/reconciliation.md ("The statement file").

A transaction is one line per provider, by its id. The same line imported again is skipped;
the same id with other content is refused, but for the one change a provider's later file
makes: a transaction performed on one day and refunded on a later one is listed performed in
the first day's file and refunded in the later one's, so the refunded line replaces the
performed one (same amount and account, not earlier), and the older file imported again
after it changes nothing.
"""

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TextIO

from sqlalchemy import Select, text
from sqlmodel import Session, col, select

from billing.models import MERCHANT_GATEWAYS, Gateway, PaymentAttempt, ProviderStatementLine, StatementState
from billing.payments.reconciliation.service import reconcile_day
from housing.clock import local_day
from housing.csvfile import (
    CsvRow,
    ImportRejected,
    ImportRowError,
    cell_errors,
    read_rows,
    row_error,
    tiyin_cell,
)
from housing.db import is_postgres
from housing.errors import Invalid
from housing.registry.models import Apartment
from housing.validation import check_year

COLUMNS = ("transaction_id", "time", "amount", "account_number", "state")
REQUIRED = COLUMNS
MAX_STATEMENT_BYTES = 16 * 1024 * 1024  # an upload beyond this is refused before it is read
MAX_ROWS = 100_000
MAX_DAYS = 31  # a file covers at most a month of days (each is reconciled again after it)
ID_CHARS = 200
ACCOUNT_CHARS = 40
CHUNK = 5_000  # ids per IN list: PostgreSQL takes at most 65,535 parameters a statement


@dataclass
class LineRow(CsvRow):
    occurred_at: datetime | None = None
    day: date | None = None
    amount_minor: int = 0
    state: StatementState | None = None
    outcome: str = "new"  # new, same (skipped), replaces (a refund of a performed line), superseded


@dataclass(frozen=True)
class ProviderStatementResult:
    gateway: Gateway
    imported: int  # new lines
    already_imported: int  # the same line, or an older state of one, imported before
    replaced: int  # performed lines now refunded
    days: tuple[date, ...]  # the days reconciled again, oldest first


def import_provider_statement(
    session: Session,
    stream: TextIO,
    *,
    gateway: Gateway,
    apartments: Select | None,
    user_id: int | None,
    timezone: str,
    now: datetime,
) -> ProviderStatementResult:
    """Stores every line of the gateway's statement, or none, and reconciles the days it covers.

    `apartments` (a select of Apartment) is whose accounts the importer may name: a company
    manager's file holds their own accounts only; None (an admin) takes any account, also one
    nobody has (the reconciliation lists it).
    """
    gateway = Gateway(gateway)
    if gateway not in MERCHANT_GATEWAYS:
        raise Invalid(
            f"statement files are imported for {', '.join(MERCHANT_GATEWAYS)}, not {gateway}", field="gateway"
        )
    rows = read_rows(
        stream,
        row_type=LineRow,
        columns=COLUMNS,
        required=REQUIRED,
        max_rows=MAX_ROWS,
        decimal_columns=("amount",),
    )
    if is_postgres(session):  # imports of a gateway's files queue up: the second sees the first's lines
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(gateway)})
    errors: list[ImportRowError] = []
    seen: dict[str, int] = {}
    for row in rows:
        errors += _check(row, seen, timezone, now)
    errors += _check_accounts(session, rows, apartments)
    stored = _stored(session, gateway, [r.cells["transaction_id"] or "" for r in rows if r.state is not None])
    for row in rows:
        errors += _against_stored(row, stored)
    errors += _check_days(rows)
    if errors:
        raise ImportRejected(errors)
    days: set[date] = set()
    for row in rows:
        assert row.occurred_at is not None and row.day is not None and row.state is not None
        days.add(row.day)
        external_id = row.cells["transaction_id"] or ""
        if row.outcome == "new":
            session.add(
                ProviderStatementLine(
                    gateway=gateway,
                    external_id=external_id,
                    day=row.day,
                    occurred_at=row.occurred_at,
                    amount_minor=row.amount_minor,
                    account_number=row.cells["account_number"] or "",
                    state=row.state,
                    imported_by_id=user_id,
                )
            )
        elif row.outcome == "replaces":
            line = stored[external_id]
            days.add(line.day)
            line.state, line.occurred_at, line.day = row.state, row.occurred_at, row.day
            line.imported_by_id = user_id
            session.add(line)
    session.flush()
    days |= _our_days(session, gateway, [r.cells["transaction_id"] or "" for r in rows], timezone)
    for day in sorted(days):
        reconcile_day(session, gateway, day, timezone=timezone, now=now)
    return ProviderStatementResult(
        gateway=gateway,
        imported=sum(r.outcome == "new" for r in rows),
        already_imported=sum(r.outcome in ("same", "superseded") for r in rows),
        replaced=sum(r.outcome == "replaces" for r in rows),
        days=tuple(sorted(days)),
    )


def _lock_key(gateway: Gateway) -> int:
    return zlib.crc32(f"housing-provider-statement:{gateway}".encode())


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    values = sorted(set(values))
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _check(row: LineRow, seen: dict[str, int], timezone: str, now: datetime) -> list[ImportRowError]:
    errors = cell_errors(row, REQUIRED, (("transaction_id", ID_CHARS), ("account_number", ACCOUNT_CHARS)))
    if errors:
        return errors
    occurred_at, reason = _moment(row.cells["time"] or "", now)
    if reason:
        errors.append(row_error(row.line, "time", reason))
    row.amount_minor = tiyin_cell(row.cells["amount"] or "")
    if not row.amount_minor:
        errors.append(row_error(row.line, "amount", "not an amount of UZS above 0 with at most 2 decimals"))
    state_text = (row.cells["state"] or "").lower()
    if state_text not in StatementState.__members__:
        errors.append(
            row_error(
                row.line,
                "state",
                f"not a state: {state_text[:20]!r}; a line is {', '.join(StatementState)}",
            )
        )
    external_id = row.cells["transaction_id"] or ""
    if external_id in seen:
        errors.append(
            row_error(row.line, "transaction_id", f"repeats the transaction of line {seen[external_id]}")
        )
    seen.setdefault(external_id, row.line)
    if errors:
        return errors
    assert occurred_at is not None
    row.occurred_at = occurred_at
    row.day = local_day(occurred_at, timezone)
    row.state = StatementState(state_text)
    return errors


def _moment(text: str, now: datetime) -> tuple[datetime | None, str]:
    """The cell's moment in UTC, or why it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, "not a time as ISO 8601 with its offset, e.g. 2026-11-03T14:05:00+05:00"
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None, "the time has no offset; write it as 2026-11-03T14:05:00+05:00"
    try:
        check_year(moment)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        return None, str(exc)
    if moment > now:
        return None, f"{text} is in the future"
    return moment, ""


def _check_accounts(session: Session, rows: list[LineRow], apartments: Select | None) -> list[ImportRowError]:
    """A company manager's lines name their own accounts only."""
    if apartments is None:
        return []
    named = {r.cells["account_number"] or "" for r in rows if r.state is not None}
    known: set[str] = set()
    for chunk in _chunks(named):
        known |= set(
            session.exec(
                select(Apartment.account_number).where(
                    col(Apartment.account_number).in_(chunk),
                    col(Apartment.id).in_(apartments.with_only_columns(Apartment.id)),
                )
            )
        )
    errors = []
    for row in rows:
        account = row.cells["account_number"] or ""
        if row.state is not None and account not in known:
            errors.append(
                row_error(row.line, "account_number", f"no apartment of yours has account {account}")
            )
            row.state = None
    return errors


def _stored(session: Session, gateway: Gateway, external_ids: list[str]) -> dict[str, ProviderStatementLine]:
    found: dict[str, ProviderStatementLine] = {}
    for chunk in _chunks(external_ids):
        for line in session.exec(
            select(ProviderStatementLine)
            .where(
                ProviderStatementLine.gateway == gateway, col(ProviderStatementLine.external_id).in_(chunk)
            )
            .with_for_update()
        ):
            found[line.external_id] = line
    return found


def _against_stored(row: LineRow, stored: dict[str, ProviderStatementLine]) -> list[ImportRowError]:
    if row.state is None or row.occurred_at is None:
        return []
    external_id = row.cells["transaction_id"] or ""
    line = stored.get(external_id)
    if line is None:
        return []
    account = row.cells["account_number"] or ""
    same_money = line.amount_minor == row.amount_minor and line.account_number == account
    before, after = StatementState(line.state), row.state
    if same_money and before is after and line.occurred_at == row.occurred_at:
        row.outcome = "same"
    elif same_money and (before, after) == (StatementState.performed, StatementState.refunded):
        if row.occurred_at < line.occurred_at:
            return [
                row_error(
                    row.line,
                    "time",
                    f"the refund is dated before the payment ({line.occurred_at:%Y-%m-%dT%H:%M:%SZ})",
                )
            ]
        row.outcome = "replaces"
    elif same_money and (before, after) == (StatementState.refunded, StatementState.performed):
        if row.occurred_at > line.occurred_at:
            return [
                row_error(
                    row.line,
                    "time",
                    f"performed after it was refunded ({line.occurred_at:%Y-%m-%dT%H:%M:%SZ})",
                )
            ]
        row.outcome = "superseded"
    else:
        return [
            row_error(
                row.line,
                "transaction_id",
                f"transaction {external_id[:64]} was imported before with other content"
                f" ({line.state}, {line.amount_minor} tiyin, account {line.account_number},"
                f" {line.occurred_at:%Y-%m-%dT%H:%M:%SZ})",
            )
        ]
    return []


def _check_days(rows: list[LineRow]) -> list[ImportRowError]:
    days: dict[date, int] = {}
    for row in rows:
        if row.day is not None:
            days.setdefault(row.day, row.line)
    if len(days) <= MAX_DAYS:
        return []
    first = min(days)
    beyond = sorted(days)[MAX_DAYS]
    return [
        row_error(
            days[beyond],
            "time",
            f"the file covers {len(days)} days from {first}; at most {MAX_DAYS} a file, split it by month",
        )
    ]


def _our_days(session: Session, gateway: Gateway, external_ids: list[str], timezone: str) -> set[date]:
    """The days our transactions named by the file were performed or cancelled on."""
    days: set[date] = set()
    for chunk in _chunks(external_ids):
        for performed_at, canceled_at in session.exec(
            select(PaymentAttempt.performed_at, PaymentAttempt.canceled_at).where(
                PaymentAttempt.gateway == gateway, col(PaymentAttempt.external_id).in_(chunk)
            )
        ):
            days |= {local_day(m, timezone) for m in (performed_at, canceled_at) if m is not None}
    return days
