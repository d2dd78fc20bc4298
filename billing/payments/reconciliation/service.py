"""Reconciliation verbs: reconcile a gateway's day.

`reconcile_day` gathers the three sides of a gateway's city day (our payments, their ledger
entries, the provider's statement lines) in a few set-based queries, hands them to the pure
rules (`rules.reconcile`) and replaces the day's run and differences with what they found:
a difference still there keeps its row, one gone is deleted, a new one added, so running a
day twice leaves the same rows. The run's row is locked first, so two reconciliations of the
same day queue up instead of mixing their differences. Flushes, never commits.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, union
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from billing.models import (
    Gateway,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    PaymentStatus,
    ProviderStatementLine,
    ReconciliationDifference,
    ReconciliationRun,
    StatementState,
)
from billing.payments.reconciliation import rules
from housing.accounts.models import COMPANY_ROLES, User
from housing.clock import local_midnight
from housing.registry.models import Apartment, BuildingManagement
from housing.registry.periods import in_force

# Reconciling a day


def reconcile_day(
    session: Session, gateway: Gateway, day: date, *, timezone: str, now: datetime
) -> ReconciliationRun:
    """The gateway's day reconciled now: its run (counts, statement lines, differences) replaced."""
    gateway = Gateway(gateway)
    run = _locked_run(session, gateway, day, now)
    ours, booked, statement = gather(session, gateway, day, timezone)
    result = rules.reconcile(gateway, day, ours, booked, statement, timezone=timezone)
    _replace_differences(session, gateway, day, result.differences, now)
    run.ran_at = now
    run.payments = result.payments
    run.paid_minor = result.paid_minor
    run.refunded_minor = result.refunded_minor
    run.statement_lines = result.statement_lines
    run.differences = len(result.differences)
    session.add(run)
    session.flush()
    return run


def _run_query(gateway: Gateway, day: date) -> Any:
    return (
        select(ReconciliationRun)
        .where(ReconciliationRun.gateway == gateway, ReconciliationRun.day == day)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _locked_run(session: Session, gateway: Gateway, day: date, now: datetime) -> ReconciliationRun:
    run = session.exec(_run_query(gateway, day)).first()
    if run is not None:
        return run
    run = ReconciliationRun(gateway=gateway, day=day, ran_at=now)
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:  # another reconciliation of the day made it meanwhile: wait for it
        return session.exec(_run_query(gateway, day)).one()
    return run


def _candidates(gateway: Gateway, day: date, timezone: str) -> Any:
    """The ids of the gateway's payments the day may concern: paid, cancelled, booked, refunded or
    named by the statement that day (the rules decide which really are the day's)."""
    start, end = local_midnight(day, timezone), local_midnight(day + timedelta(days=1), timezone)

    def within(column: Any) -> Any:
        return and_(column >= start, column < end)

    booked_entry = exists().where(
        LedgerEntry.payment_attempt_id == PaymentAttempt.id, LedgerEntry.kind == LedgerKind.payment
    )
    return union(
        select(PaymentAttempt.id).where(
            PaymentAttempt.gateway == gateway, within(col(PaymentAttempt.performed_at))
        ),
        select(PaymentAttempt.id).where(
            PaymentAttempt.gateway == gateway, within(col(PaymentAttempt.canceled_at))
        ),
        select(col(LedgerEntry.payment_attempt_id).label("id"))
        .join(PaymentAttempt, col(PaymentAttempt.id) == LedgerEntry.payment_attempt_id)
        .where(
            PaymentAttempt.gateway == gateway,
            col(LedgerEntry.kind).in_((LedgerKind.payment, LedgerKind.refund)),
            within(col(LedgerEntry.occurred_at)),
        ),
        select(PaymentAttempt.id).where(
            PaymentAttempt.gateway == gateway,
            col(PaymentAttempt.status).in_(rules.PAID),
            within(col(PaymentAttempt.created_at)),
            ~booked_entry,
        ),
        select(PaymentAttempt.id)
        .join(
            ProviderStatementLine,
            and_(
                ProviderStatementLine.gateway == PaymentAttempt.gateway,
                col(ProviderStatementLine.external_id) == PaymentAttempt.external_id,
            ),
        )
        .where(ProviderStatementLine.gateway == gateway, ProviderStatementLine.day == day),
    ).subquery()


def gather(
    session: Session, gateway: Gateway, day: date, timezone: str
) -> tuple[list[rules.Ours], dict[int, rules.Booked], rules.Statement | None]:
    """The three sides of the gateway's day, as the rules take them."""
    candidates = _candidates(gateway, day, timezone)
    ids = select(candidates.c.id)
    rows = session.execute(
        select(
            PaymentAttempt.id,
            PaymentAttempt.gateway,
            PaymentAttempt.external_id,
            PaymentAttempt.apartment_id,
            Apartment.account_number,
            PaymentAttempt.amount_minor,
            PaymentAttempt.status,
            PaymentAttempt.created_at,
            PaymentAttempt.refunded_minor,
            PaymentAttempt.performed_at,
            PaymentAttempt.canceled_at,
            BuildingManagement.company_id,
        )
        .join(Apartment, col(Apartment.id) == PaymentAttempt.apartment_id)
        .outerjoin(
            BuildingManagement,
            and_(BuildingManagement.building_id == Apartment.building_id, in_force(BuildingManagement, day)),
        )
        .where(col(PaymentAttempt.id).in_(ids))
    ).all()
    ours = [
        rules.Ours(
            payment_id=r[0],
            gateway=Gateway(r[1]),
            external_id=r[2],
            apartment_id=r[3],
            account_number=r[4],
            amount_minor=r[5],
            status=PaymentStatus(r[6]),
            created_at=r[7],
            refunded_minor=r[8],
            performed_at=r[9],
            canceled_at=r[10],
            company_id=r[11],
        )
        for r in rows
    ]
    booked = _booked(session, ids)
    statement = _statement(session, gateway, day, ids) if gateway in rules.STATEMENT_GATEWAYS else None
    return ours, booked, statement


def _booked(session: Session, ids: Any) -> dict[int, rules.Booked]:
    rows = session.execute(
        select(
            LedgerEntry.payment_attempt_id,
            LedgerEntry.kind,
            func.count(),
            func.sum(LedgerEntry.amount_minor),
            func.min(LedgerEntry.occurred_at),
            func.max(LedgerEntry.occurred_at),
        )
        .where(
            col(LedgerEntry.payment_attempt_id).in_(ids),
            col(LedgerEntry.kind).in_((LedgerKind.payment, LedgerKind.refund)),
        )
        .group_by(LedgerEntry.payment_attempt_id, LedgerEntry.kind)
    ).all()
    found: dict[int, dict[str, Any]] = {}
    for attempt_id, kind, count, total, first, last in rows:
        entry = found.setdefault(attempt_id, {})
        if LedgerKind(kind) is LedgerKind.payment:
            entry |= {"payments": count, "paid_minor": -int(total), "first_paid_at": first}
        else:
            entry |= {"refunded_minor": int(total), "last_refunded_at": last}
    return {attempt_id: rules.Booked(**fields) for attempt_id, fields in found.items()}


def _statement(session: Session, gateway: Gateway, day: date, ids: Any) -> rules.Statement:
    """The day's lines and the other lines of the same transactions, and whom the day's file covers."""
    theirs = select(PaymentAttempt.external_id).where(
        col(PaymentAttempt.id).in_(ids), col(PaymentAttempt.external_id).is_not(None)
    )
    rows = session.execute(
        select(
            ProviderStatementLine.external_id,
            ProviderStatementLine.day,
            ProviderStatementLine.occurred_at,
            ProviderStatementLine.amount_minor,
            ProviderStatementLine.account_number,
            ProviderStatementLine.state,
            Apartment.id,
        )
        .outerjoin(Apartment, col(Apartment.account_number) == ProviderStatementLine.account_number)
        .where(
            ProviderStatementLine.gateway == gateway,
            or_(ProviderStatementLine.day == day, col(ProviderStatementLine.external_id).in_(theirs)),
        )
    ).all()
    lines = tuple(
        rules.Line(
            external_id=external_id,
            day=line_day,
            occurred_at=occurred_at,
            amount_minor=amount_minor,
            account_number=account_number,
            state=StatementState(state),
            apartment_id=apartment_id,
        )
        for external_id, line_day, occurred_at, amount_minor, account_number, state, apartment_id in rows
    )
    return rules.Statement(lines=lines, covers=statement_covers(session, gateway, day))


def statement_covers(session: Session, gateway: Gateway, day: date) -> frozenset[int] | None:
    """The companies whose payments the day's statement speaks for: those of the company managers
    who imported its lines; None (every payment) once an admin (or the command line) imported any."""
    importers = session.execute(
        select(ProviderStatementLine.imported_by_id, User.role, User.company_id)
        .outerjoin(User, col(User.id) == ProviderStatementLine.imported_by_id)
        .where(ProviderStatementLine.gateway == gateway, ProviderStatementLine.day == day)
        .distinct()
    ).all()
    companies = set()
    for user_id, role, company_id in importers:
        if user_id is None or role not in COMPANY_ROLES or company_id is None:
            return None
        companies.add(company_id)
    return frozenset(companies)


KEY_COLUMNS = (
    ReconciliationDifference.kind,
    ReconciliationDifference.payment_attempt_id,
    ReconciliationDifference.external_id,
    ReconciliationDifference.apartment_id,
    ReconciliationDifference.ours_minor,
    ReconciliationDifference.theirs_minor,
    ReconciliationDifference.detail,
)
CHUNK = 5_000  # ids per IN list: PostgreSQL takes at most 65,535 parameters a statement


def _key(d: rules.Difference) -> tuple:
    return (d.kind.value, d.payment_id, d.external_id, d.apartment_id, d.ours_minor, d.theirs_minor, d.detail)


def _replace_differences(
    session: Session, gateway: Gateway, day: date, found: Iterable[rules.Difference], now: datetime
) -> None:
    """The day's rows become `found`: rows still found are kept as they are (in bulk: a day of a
    gateway may have thousands)."""
    kept: dict[tuple, list[int]] = {}
    for row_id, *key in session.execute(
        select(ReconciliationDifference.id, *KEY_COLUMNS).where(
            ReconciliationDifference.gateway == gateway, ReconciliationDifference.day == day
        )
    ):
        kept.setdefault(tuple(key), []).append(row_id)
    new = []
    for difference in found:
        same = kept.get(_key(difference))
        if same:
            same.pop()
            continue
        new.append(
            {
                "gateway": gateway.value,
                "day": day,
                "kind": difference.kind.value,
                "external_id": difference.external_id,
                "payment_attempt_id": difference.payment_id,
                "apartment_id": difference.apartment_id,
                "ours_minor": difference.ours_minor,
                "theirs_minor": difference.theirs_minor,
                "detail": difference.detail,
                "created_at": now,
            }
        )
    gone = [row_id for rows in kept.values() for row_id in rows]
    for start in range(0, len(gone), CHUNK):
        session.execute(
            delete(ReconciliationDifference).where(
                col(ReconciliationDifference.id).in_(gone[start : start + CHUNK])
            )
        )
    if new:
        session.execute(insert(ReconciliationDifference), new)
    session.flush()
