"""Reconciliation verbs: reconcile a gateway's day, and the payments per gateway and day.

`reconcile_day` gathers the three sides of a gateway's city day (our payments, their ledger
entries, the provider's statement lines) in a few set-based queries, hands them to the pure
rules (`rules.reconcile`) and replaces the day's run and differences with what they found:
a difference still there keeps its row, one gone is deleted, a new one added, so running a
day twice leaves the same rows. The run's row is locked first, so two reconciliations of the
same day queue up instead of mixing their differences. Flushes, never commits.

`daily_totals` counts the payments per gateway and city day by the same day rule, in one
SQL statement whatever the number of payments, for whatever apartments the caller may see.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    union,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from billing.models import (
    MERCHANT_GATEWAYS,
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
from housing.errors import Invalid
from housing.registry.models import Apartment, BuildingManagement, ManagementCompany
from housing.registry.periods import in_force

MAX_DAYS = 31  # the longest range of days one summary reads
NON_MERCHANT = tuple(g for g in Gateway if g not in MERCHANT_GATEWAYS)


def day_range(first: date, last: date) -> tuple[date, date]:
    """The range as given, or Invalid when it is backwards or longer than MAX_DAYS."""
    if last < first:
        raise Invalid(f"the range ends ({last}) before it starts ({first})", field="to")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(
            f"at most {MAX_DAYS} days at once; {first}..{last} is {(last - first).days + 1}", field="from"
        )
    return first, last


# Reconciling a day


def reconcile_day(
    session: Session, gateway: Gateway, day: date, *, timezone: str, now: datetime
) -> ReconciliationRun:
    """The gateway's day reconciled now: its run (counts, statement lines, differences) replaced."""
    gateway = Gateway(gateway)
    run = _locked_run(session, gateway, day, now)
    ours, booked, statement = gather(session, gateway, day, timezone)
    result = rules.reconcile(gateway, day, ours, booked, statement, timezone=timezone)
    _replace_differences(session, gateway, day, result.differences)
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
        select(ProviderStatementLine, Apartment.id)
        .outerjoin(Apartment, col(Apartment.account_number) == ProviderStatementLine.account_number)
        .where(
            ProviderStatementLine.gateway == gateway,
            or_(ProviderStatementLine.day == day, col(ProviderStatementLine.external_id).in_(theirs)),
        )
    ).all()
    lines = tuple(
        rules.Line(
            external_id=line.external_id,
            day=line.day,
            occurred_at=line.occurred_at,
            amount_minor=line.amount_minor,
            account_number=line.account_number,
            state=StatementState(line.state),
            apartment_id=apartment_id,
        )
        for line, apartment_id in rows
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


def _key(d: ReconciliationDifference | rules.Difference) -> tuple:
    return (
        str(d.kind),
        d.payment_attempt_id if isinstance(d, ReconciliationDifference) else d.payment_id,
        d.external_id,
        d.apartment_id,
        d.ours_minor,
        d.theirs_minor,
        d.detail,
    )


def _replace_differences(
    session: Session, gateway: Gateway, day: date, found: Iterable[rules.Difference]
) -> None:
    """The day's rows become `found`: rows still found are kept as they are."""
    kept: dict[tuple, list[ReconciliationDifference]] = {}
    for row in session.exec(
        select(ReconciliationDifference).where(
            ReconciliationDifference.gateway == gateway, ReconciliationDifference.day == day
        )
    ):
        kept.setdefault(_key(row), []).append(row)
    for difference in found:
        same = kept.get(_key(difference))
        if same:
            same.pop()
            continue
        session.add(
            ReconciliationDifference(
                gateway=gateway,
                day=day,
                kind=difference.kind.value,
                external_id=difference.external_id,
                payment_attempt_id=difference.payment_id,
                apartment_id=difference.apartment_id,
                ours_minor=difference.ours_minor,
                theirs_minor=difference.theirs_minor,
                detail=difference.detail,
            )
        )
    for rows in kept.values():
        for row in rows:
            session.delete(row)
    session.flush()


# Payments per gateway and day


@dataclass(frozen=True, slots=True)
class DayTotal:
    """What one gateway took (and handed back) on one city day, for one company or all."""

    day: date | None  # None when summed over the range
    gateway: Gateway
    payments: int
    paid_minor: int
    refunded_minor: int
    company_id: int | None = None
    company_name: str | None = None


def _bucket(column: Any, first: date, last: date, timezone: str) -> Any:
    """The city day of a UTC moment as SQL, for moments within first..last (a CASE of the days'
    ends: the same on SQLite and PostgreSQL, and right across any time zone's offsets)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return case(
        *[(column < local_midnight(d + timedelta(days=1), timezone), literal(d, Date())) for d in days],
        else_=literal(None, Date()),
    )


def _totals_rows(first: date, last: date, timezone: str, gateway: Gateway | None) -> Any:
    """One row per payment paid and per payment refunded within the range: (day, gateway,
    apartment_id, payments, paid_minor, refunded_minor), by the rules' day rule."""
    start, end = local_midnight(first, timezone), local_midnight(last + timedelta(days=1), timezone)
    one, zero = literal_column("1"), literal_column("0")

    def gateways(*allowed: Gateway) -> Any:
        chosen = [g for g in allowed if gateway is None or g == gateway]
        return col(PaymentAttempt.gateway).in_(chosen) if chosen else false()

    performed = col(PaymentAttempt.performed_at)
    merchant_paid = select(
        _bucket(performed, first, last, timezone).label("day"),
        col(PaymentAttempt.gateway).label("gateway"),
        col(PaymentAttempt.apartment_id).label("apartment_id"),
        one.label("payments"),
        col(PaymentAttempt.amount_minor).label("paid_minor"),
        zero.label("refunded_minor"),
    ).where(gateways(*MERCHANT_GATEWAYS), performed >= start, performed < end)
    occurred = col(LedgerEntry.occurred_at)
    booked_paid = (
        select(
            _bucket(occurred, first, last, timezone).label("day"),
            col(PaymentAttempt.gateway).label("gateway"),
            col(PaymentAttempt.apartment_id).label("apartment_id"),
            one.label("payments"),
            col(PaymentAttempt.amount_minor).label("paid_minor"),
            zero.label("refunded_minor"),
        )
        .join(PaymentAttempt, col(PaymentAttempt.id) == LedgerEntry.payment_attempt_id)
        .where(
            LedgerEntry.kind == LedgerKind.payment,
            gateways(*NON_MERCHANT),
            occurred >= start,
            occurred < end,
        )
    )
    last_refund = (
        select(
            col(LedgerEntry.payment_attempt_id).label("payment_id"),
            func.max(LedgerEntry.occurred_at).label("at"),
        )
        .where(LedgerEntry.kind == LedgerKind.refund, col(LedgerEntry.payment_attempt_id).is_not(None))
        .group_by(LedgerEntry.payment_attempt_id)
        .subquery()
    )
    refunded = (
        select(
            _bucket(last_refund.c.at, first, last, timezone).label("day"),
            col(PaymentAttempt.gateway).label("gateway"),
            col(PaymentAttempt.apartment_id).label("apartment_id"),
            zero.label("payments"),
            zero.label("paid_minor"),
            col(PaymentAttempt.refunded_minor).label("refunded_minor"),
        )
        .join(PaymentAttempt, col(PaymentAttempt.id) == last_refund.c.payment_id)
        .where(gateways(*Gateway), last_refund.c.at >= start, last_refund.c.at < end)
    )
    return union_all(merchant_paid, booked_paid, refunded).subquery()


def daily_totals_query(
    first: date,
    last: date,
    *,
    timezone: str,
    apartments: Select | None = None,
    gateway: Gateway | None = None,
    company_id: int | None = None,
    by_company: bool = False,
    by_day: bool = True,
) -> Select:
    """The totals per (day,) gateway (and company) of the range, newest day first, as one query.

    `apartments` (a select of Apartment rows) limits it to what an actor may see; None: the city.
    A company is the one that managed the payment's building on the payment's day.
    """
    rows = _totals_rows(first, last, timezone, gateway)
    keys: list[Any] = [rows.c.day] if by_day else []
    keys.append(rows.c.gateway)
    query = select(
        *keys,
        func.sum(rows.c.payments).label("payments"),
        func.sum(rows.c.paid_minor).label("paid_minor"),
        func.sum(rows.c.refunded_minor).label("refunded_minor"),
    )
    if apartments is not None:
        query = query.where(rows.c.apartment_id.in_(apartments.with_only_columns(Apartment.id)))
    if by_company or company_id is not None:
        query = query.join(Apartment, col(Apartment.id) == rows.c.apartment_id).join(
            BuildingManagement,
            and_(
                BuildingManagement.building_id == Apartment.building_id,
                in_force(BuildingManagement, rows.c.day),
            ),
        )
        if company_id is not None:
            query = query.where(BuildingManagement.company_id == company_id)
    if by_company:
        query = query.join(
            ManagementCompany, col(ManagementCompany.id) == BuildingManagement.company_id
        ).add_columns(ManagementCompany.id.label("company_id"), ManagementCompany.name.label("company_name"))
        keys += [ManagementCompany.id, ManagementCompany.name]
    order = ([rows.c.day.desc()] if by_day else []) + (
        [ManagementCompany.name, ManagementCompany.id] if by_company else []
    )
    return query.group_by(*keys).order_by(*order, rows.c.gateway)


def day_totals(rows: Iterable[Any]) -> list[DayTotal]:
    """The rows of `daily_totals_query` as DayTotal."""
    found = []
    for row in rows:
        fields = row._mapping
        found.append(
            DayTotal(
                day=fields.get("day"),
                gateway=Gateway(fields["gateway"]),
                payments=int(fields["payments"] or 0),
                paid_minor=int(fields["paid_minor"] or 0),
                refunded_minor=int(fields["refunded_minor"] or 0),
                company_id=fields.get("company_id"),
                company_name=fields.get("company_name"),
            )
        )
    return found


def daily_totals(session: Session, first: date, last: date, **kw: Any) -> list[DayTotal]:
    """Every row of `daily_totals_query` (for a small range: at most MAX_DAYS x gateways)."""
    return day_totals(session.execute(daily_totals_query(first, last, **kw)).all())


# Runs as an actor sees them


@dataclass(frozen=True, slots=True)
class RunView:
    """A run counted over the payments an actor may see (the stored run's own figures for the city)."""

    gateway: Gateway
    day: date
    ran_at: datetime
    payments: int
    paid_minor: int
    refunded_minor: int
    statement_lines: int | None
    differences: int


def _windows(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive stretches of at most MAX_DAYS covering the days, for the totals' queries."""
    found: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if found and (day - found[-1][0]).days < MAX_DAYS:
            found[-1] = (found[-1][0], day)
        else:
            found.append((day, day))
    return found


def run_views(
    session: Session,
    runs: list[ReconciliationRun],
    *,
    apartments: Select | None,
    differences: Select,
    timezone: str,
) -> list[RunView]:
    """The runs with their figures counted over `apartments` (None: the city, as stored) and their
    differences counted among `differences` (a select of the differences the actor may see)."""
    days = sorted({run.day for run in runs})
    if not days:
        return []
    found = dict(
        ((gateway, day), count)
        for gateway, day, count in session.execute(
            select(ReconciliationDifference.gateway, ReconciliationDifference.day, func.count())
            .where(
                col(ReconciliationDifference.id).in_(
                    differences.with_only_columns(ReconciliationDifference.id)
                ),
                col(ReconciliationDifference.day).in_(days),
            )
            .group_by(ReconciliationDifference.gateway, ReconciliationDifference.day)
        ).all()
    )
    if apartments is None:
        return [
            RunView(
                run.gateway,
                run.day,
                run.ran_at,
                run.payments,
                run.paid_minor,
                run.refunded_minor,
                run.statement_lines,
                found.get((run.gateway, run.day), 0),
            )
            for run in runs
        ]
    totals: dict[tuple[Gateway, date], DayTotal] = {}
    for first, last in _windows(days):
        for total in daily_totals(session, first, last, timezone=timezone, apartments=apartments):
            totals[(total.gateway, total.day)] = total  # type: ignore[index]
    lines = dict(
        ((gateway, day), count)
        for gateway, day, count in session.execute(
            select(ProviderStatementLine.gateway, ProviderStatementLine.day, func.count())
            .join(Apartment, col(Apartment.account_number) == ProviderStatementLine.account_number)
            .where(
                col(Apartment.id).in_(apartments.with_only_columns(Apartment.id)),
                col(ProviderStatementLine.day).in_(days),
            )
            .group_by(ProviderStatementLine.gateway, ProviderStatementLine.day)
        ).all()
    )
    views = []
    for run in runs:
        key = (Gateway(run.gateway), run.day)
        total = totals.get(key)
        views.append(
            RunView(
                gateway=Gateway(run.gateway),
                day=run.day,
                ran_at=run.ran_at,
                payments=total.payments if total else 0,
                paid_minor=total.paid_minor if total else 0,
                refunded_minor=total.refunded_minor if total else 0,
                statement_lines=None if run.statement_lines is None else lines.get(key, 0),
                differences=found.get(key, 0),
            )
        )
    return views
