"""Payments per gateway and city day, in SQL: the reconciliation's day rule for lists and sums.

A Payme or Click payment counts on the city's day its provider performed it; a card, bank or
office payment on the day of its ledger payment entry; a refund on the day of its last refund
entry (a provider's cancel books it at the cancel), with all that was handed back. The same rule
as `rules.paid_day` and `rules.refund_day`, written once as SQL here: `daily_totals_query` sums
a range of days in one statement whatever the number of payments (the day of a moment is a CASE
of the days' ends, the same on SQLite and PostgreSQL and right in any time zone), `paid_on`
selects the payments paid on one day. `run_views` counts a reconciliation's runs over the
apartments an actor may see.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Select, and_, case, false, func, literal, literal_column, or_, union_all
from sqlmodel import Session, col, select

from billing.models import (
    MERCHANT_GATEWAYS,
    Gateway,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    ProviderStatementLine,
    ReconciliationDifference,
    ReconciliationRun,
)
from housing.clock import local_midnight
from housing.errors import Invalid
from housing.registry.models import Apartment, BuildingManagement, ManagementCompany
from housing.registry.periods import in_force

MAX_DAYS = 31
DEFAULT_DAYS = (
    7  # a range asked without its ends: the week through today  # the longest range of days one summary reads
)
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


def asked_days(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The range asked for; by default the week through today (a range's first day alone: a week from it)."""
    if last is None:
        last = today if first is None else min(first + timedelta(days=DEFAULT_DAYS - 1), today)
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    return day_range(first, last)


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


# One day's payments, for the lists


def paid_moment() -> Any:
    """When a payment was paid (a provider's perform, else its ledger entry), else when it was made."""
    entry = (
        select(func.min(LedgerEntry.occurred_at))
        .where(LedgerEntry.payment_attempt_id == PaymentAttempt.id, LedgerEntry.kind == LedgerKind.payment)
        .scalar_subquery()
    )
    return func.coalesce(PaymentAttempt.performed_at, entry)


def paid_on(day: date, timezone: str) -> Any:
    """Paid on the city's `day`, by the reconciliation's day rule."""
    start, end = local_midnight(day, timezone), local_midnight(day + timedelta(days=1), timezone)
    performed = col(PaymentAttempt.performed_at)
    booked = select(LedgerEntry.payment_attempt_id).where(
        LedgerEntry.kind == LedgerKind.payment,
        LedgerEntry.occurred_at >= start,
        LedgerEntry.occurred_at < end,
    )
    return or_(
        and_(col(PaymentAttempt.gateway).in_(MERCHANT_GATEWAYS), performed >= start, performed < end),
        and_(col(PaymentAttempt.gateway).not_in(MERCHANT_GATEWAYS), col(PaymentAttempt.id).in_(booked)),
    )


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
