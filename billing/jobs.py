"""Scheduled work of the billing package, as `job(engine, settings, today=None) -> str`.

`monthly_billing` bills the previous month; schedule it on the 1st at 02:00 Asia/Tashkent.
It takes the unbilled apartments' ids once, then bills them in batches of `runs.BATCH`, one
transaction per batch, so a failure loses one batch and a second run finds only what is
left. `daily_penalties` books today's late penalties in one transaction (a second run the
same day adds nothing). `today` may be given to run either by hand or under a frozen clock.
"""

from datetime import date, timedelta

from sqlalchemy import Engine

from billing.ledger import accrue_penalties
from billing.runs import BATCH, run_billing, unbilled_apartment_ids
from housing.clock import local_today
from housing.db import session_scope
from housing.settings import Settings


def previous_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def monthly_billing(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Issues last month's missing invoices; a summary line."""
    today = today or local_today(settings.scheduler.timezone)
    return bill_period(engine, settings, previous_month(today), today)


def bill_period(engine: Engine, settings: Settings, period: date, today: date) -> str:
    """Issues a period's missing invoices, one transaction per batch of apartments; a summary line."""
    with session_scope(engine) as session:
        ids = unbilled_apartment_ids(session, period)
    issued = total = without_manager = without_lines = failed = warnings = 0
    for i in range(0, len(ids), BATCH):
        with session_scope(engine) as session:
            summary = run_billing(
                session,
                period=period,
                today=today,
                apartment_ids=ids[i : i + BATCH],
                timezone=settings.scheduler.timezone,
            )
        if summary.locked_out:
            return (
                f"billing {period:%Y-%m}: stopped after {issued} invoices, another billing run holds the lock"
            )
        issued += summary.issued
        total += summary.total_minor
        without_manager += summary.without_manager
        without_lines += summary.without_lines
        failed += summary.failed
        warnings += summary.warning_count
    return (
        f"billing {period:%Y-%m}: issued {issued} invoices totalling {total} tiyin"
        f" ({without_manager} apartments without a manager, {without_lines} with nothing to bill,"
        f" {failed} held back, {warnings} warnings)"
    )


def daily_penalties(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Books today's late-payment penalties; a summary line."""
    today = today or local_today(settings.scheduler.timezone)
    with session_scope(engine) as session:
        added = accrue_penalties(session, today=today)
    return f"penalties {today.isoformat()}: {added} entries added"
