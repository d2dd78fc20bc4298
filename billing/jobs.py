"""Scheduled work of the billing package, as `job(engine, settings, today=None) -> str`.

`monthly_billing` bills every month since the last one it finished through the previous
month, in batches of one transaction each (`bill_period`, several processes on PostgreSQL);
`daily_penalties` books every day since the last one booked through today, one transaction a
day. Both catch up from what the database says they finished (`housing.catchup`), and a
failing batch or day is logged and counted, not fatal. The rules are in docs/billing-jobs.md.
"""

import logging
import multiprocessing
import os
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from billing.ledger.service import accrue_penalties
from billing.models import Invoice, LedgerEntry, LedgerKind
from billing.rules import BillingRules
from billing.runs.facts import BATCH
from billing.runs.prepared import PreparedRun
from billing.runs.service import MAX_WARNINGS, check_period, run_billing, unbilled_apartment_ids
from housing import clock
from housing.catchup import service as catchup
from housing.clock import local_today, previous_month
from housing.db import is_postgres, make_engine, session_scope
from housing.registry.models import BuildingManagement
from housing.settings import Settings

log = logging.getLogger(__name__)

MAX_WORKERS = 4
RUN_LOCK_KEY = zlib.crc32(b"housing-billing-run:whole-run")  # not runs.LOCK_KEY, which batches take
PENALTY_LOCK_KEY = zlib.crc32(b"housing-penalties:day")
MONTHLY_BILLING = "monthly-billing"  # the jobs' names, as the scheduler's table and job_progress know them
DAILY_PENALTIES = "daily-penalties"

# A worker process's `PreparedRun`s by (period, timezone): read before its first batch and
# kept for the others (the process ends with the pool, and they with it).
_prepared_in_worker: dict[tuple[date, str], PreparedRun] = {}


def default_workers() -> int:
    """The machine's CPUs, at most `MAX_WORKERS` (the database needs some of them too)."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def monthly_billing(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Bills every month since the last one finished through the previous month; a line per month."""
    today = today or local_today(settings.timezone)
    last = previous_month(today)
    with session_scope(engine) as session:
        first = first_month_to_bill(session, last, settings.timezone)
    done = []
    for month in catchup.months(first, last):
        run = run_period(engine, settings, month, today)
        done.append(run.summary)
        if run.outcome is RunOutcome.locked_out or run.errors:
            break  # in order: this month's leftovers come first next time
        with session_scope(engine) as session:
            catchup.mark_done(session, MONTHLY_BILLING, month)
    if not done:  # no building registered yet: nothing before `last` will ever be billed by the job
        with session_scope(engine) as session:
            catchup.mark_done(session, MONTHLY_BILLING, last)
        return f"billing: nothing to do through {last:%Y-%m}, no building is registered"
    return "; ".join(done)


def first_month_to_bill(session: Session, last: date, timezone: str) -> date:
    """The first month the monthly job bills now (see the module's docstring); after `last` when none.

    The month asked for (`last`) is always billed again: a second run finds nothing to issue
    there, unless apartments were added to it meanwhile or a batch failed.
    """
    finished = catchup.done_through(session, MONTHLY_BILLING)
    if finished is not None:
        return min(clock.add_months(finished, 1), last)  # `last` itself again: its leftovers, if any
    latest = session.exec(select(func.max(Invoice.period))).one()
    if latest is not None:
        return min(latest, clock.add_months(last, 1))
    registered = session.exec(select(func.min(BuildingManagement.created_at))).one()
    if registered is None:
        return clock.add_months(last, 1)  # nothing to bill yet
    return min(last, clock.local_day(registered, timezone).replace(day=1))


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch's transaction did; `error` says why it failed (and wrote nothing)."""

    apartments: int
    issued: int = 0
    total_minor: int = 0
    without_manager: int = 0
    without_lines: int = 0
    held_back: int = 0
    warnings: int = 0
    error: str = ""
    warning_lines: tuple[str, ...] = ()  # the batch's first `MAX_WARNINGS` warnings


class RunOutcome(StrEnum):
    """How a billing run of one month ended, for an operator or a script to act on."""

    issued = "issued"  # invoices issued (or, dry, would be), none held back, no batch failed
    nothing = "nothing to do"  # every account was already billed (or had nothing to bill)
    locked_out = "locked out"  # another run holds the lock: nothing done
    failed = "failed"  # a batch failed or apartments were held back: they stay unbilled


@dataclass(frozen=True, slots=True)
class PeriodRun:
    """A month's billing run: its outcome, the summary line and the warnings themselves."""

    period: date
    outcome: RunOutcome
    summary: str
    warning_count: int = 0
    warnings: tuple[str, ...] = ()  # the first `MAX_WARNINGS`
    errors: tuple[str, ...] = ()  # why each failed batch failed


def outcome_of(*, issued: int, held_back: int, failed_batches: int) -> RunOutcome:
    if failed_batches or held_back:
        return RunOutcome.failed
    return RunOutcome.issued if issued else RunOutcome.nothing


def bill_period(
    engine: Engine,
    settings: Settings,
    period: date,
    today: date,
    *,
    workers: int | None = None,
    batch_size: int = BATCH,
) -> str:
    """Issues a period's missing invoices, one transaction per batch, in `workers` processes; a summary line."""
    return run_period(engine, settings, period, today, workers=workers, batch_size=batch_size).summary


def run_period(
    engine: Engine,
    settings: Settings,
    period: date,
    today: date,
    *,
    workers: int | None = None,
    batch_size: int = BATCH,
) -> PeriodRun:
    """`bill_period` with its outcome and warnings (what `housing bill` reports and exits with)."""
    if workers is None:
        workers = default_workers()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    check_period(period, today, settings.timezone)  # raised here, not as a failed batch each
    if not is_postgres(engine):
        # SQLite takes one writer at a time and has no advisory lock (its numbering relies on
        # that single writer), so a second process would only wait: bill in this one.
        workers = 1
    with _run_lock(engine) as granted:
        if not granted:
            return PeriodRun(
                period,
                RunOutcome.locked_out,
                f"billing {period:%Y-%m}: skipped, another billing run holds the lock",
            )
        with session_scope(engine) as session:
            ids = unbilled_apartment_ids(session, period)
        batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
        if workers == 1 or len(batches) <= 1:
            prepared: dict[tuple[date, str], PreparedRun] = {}
            results = [_bill_batch(engine, settings, period, today, batch, prepared) for batch in batches]
        else:
            results = _bill_in_workers(settings, period, today, batches, min(workers, len(batches)))
    done = [r for r in results if not r.error]
    warnings = tuple(line for r in done for line in r.warning_lines)[:MAX_WARNINGS]
    return PeriodRun(
        period,
        outcome_of(
            issued=sum(r.issued for r in done),
            held_back=sum(r.held_back for r in done),
            failed_batches=len(results) - len(done),
        ),
        _summary_line(period, results),
        warning_count=sum(r.warnings for r in done),
        warnings=warnings,
        errors=tuple(r.error for r in results if r.error),
    )


def _bill_in_workers(
    settings: Settings, period: date, today: date, batches: list[list[int]], workers: int
) -> list[BatchResult]:
    """The batches shared out among `workers` fresh processes (spawned: no connection is inherited).

    Each worker takes the next batch from the pool's queue when it is done with one, with an
    engine of its own made for that batch; what every batch shares (`PreparedRun`: the
    tariffs, meter replacements, flat prices) it reads once and keeps.
    """
    results = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future[BatchResult], list[int]] = {
            pool.submit(_bill_batch_in_worker, settings, period, today, batch): batch for batch in batches
        }
        for future in as_completed(futures):
            try:
                results.append(future.result())
            except Exception as exc:  # the worker died (BrokenProcessPool): its batch stays unbilled
                log.error(
                    "billing %s: a batch of %d apartments failed: %r", period, len(futures[future]), exc
                )
                results.append(BatchResult(apartments=len(futures[future]), error=repr(exc)))
    return results


def _bill_batch_in_worker(settings: Settings, period: date, today: date, ids: Sequence[int]) -> BatchResult:
    engine = make_engine(settings)
    try:
        return _bill_batch(engine, settings, period, today, ids, _prepared_in_worker)
    finally:
        engine.dispose()


def _bill_batch(
    engine: Engine,
    settings: Settings,
    period: date,
    today: date,
    ids: Sequence[int],
    prepared: dict[tuple[date, str], PreparedRun],
) -> BatchResult:
    """One batch in one transaction; a failure rolls it back and is reported, not raised.

    `prepared` keeps the run's `PreparedRun` from batch to batch; the first batch reads it
    in a transaction of its own (so that a batch rolled back leaves it intact).
    """
    timezone = settings.timezone
    try:
        if (period, timezone) not in prepared:
            with session_scope(engine) as session:
                prepared[(period, timezone)] = PreparedRun(
                    session, period, timezone, settings.meters.boundary_tolerance
                )
        with session_scope(engine) as session:
            summary = run_billing(
                session,
                period=period,
                today=today,
                apartment_ids=ids,
                timezone=timezone,
                wait=True,  # the other workers hold the lock only while they number and write
                prepared=prepared[(period, timezone)],
                rules=BillingRules.from_settings(settings),
            )
    except Exception as exc:  # one batch lost, not the run: its apartments stay unbilled
        log.exception(
            "billing %s: a batch of %d apartments failed (ids %s..%s)", period, len(ids), ids[0], ids[-1]
        )
        return BatchResult(apartments=len(ids), error=repr(exc))
    return BatchResult(
        apartments=len(ids),
        issued=summary.issued,
        total_minor=summary.total_minor,
        without_manager=summary.without_manager,
        without_lines=summary.without_lines,
        held_back=summary.failed,
        warnings=summary.warning_count,
        warning_lines=tuple(summary.warnings),
    )


def _summary_line(period: date, results: list[BatchResult]) -> str:
    done = [r for r in results if not r.error]
    text_ = (
        f"billing {period:%Y-%m}: issued {sum(r.issued for r in done)} invoices"
        f" totalling {sum(r.total_minor for r in done)} tiyin"
        f" ({sum(r.without_manager for r in done)} apartments without a manager,"
        f" {sum(r.without_lines for r in done)} with nothing to bill,"
        f" {sum(r.held_back for r in done)} held back, {sum(r.warnings for r in done)} warnings)"
    )
    failed = [r for r in results if r.error]
    if failed:
        text_ += (
            f"; {len(failed)} of {len(results)} batches failed, their"
            f" {sum(r.apartments for r in failed)} apartments stay unbilled for the next run"
            f" (first error: {failed[0].error[:200]})"
        )
    return text_


@contextmanager
def _run_lock(engine: Engine) -> Iterator[bool]:
    """A session-level advisory lock held by the run's parent, so a second run does not draft
    the same invoices only to find them billed; always granted on SQLite (one writer).

    Its own autocommit connection holds it (no transaction stays open), released on the way out.
    """
    if not is_postgres(engine):
        yield True
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        granted = connection.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": RUN_LOCK_KEY}
        ).scalar_one()
        try:
            yield bool(granted)
        finally:
            if granted:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RUN_LOCK_KEY})


def daily_penalties(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Books the late-payment penalties of every day since the last one booked, through `today`.

    One transaction per day, oldest first, each at that day's overdue amount; a summary line.
    Run for a day already booked (by hand), it books that day again: only what is missing.
    """
    timezone = settings.timezone
    today = today or local_today(timezone)
    rules = BillingRules.from_settings(settings).penalties
    with session_scope(engine) as session:
        first = first_penalty_day(session, today)
    added = booked = 0
    failed: date | None = None
    for day in catchup.days(first, today):
        try:
            with session_scope(engine) as session:
                if is_postgres(engine):  # a second copy waits, then finds the day booked
                    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PENALTY_LOCK_KEY})
                finished = catchup.done_through(session, DAILY_PENALTIES)
                if finished is not None and finished >= day and day != today:
                    continue  # booked by another run meanwhile
                entries = accrue_penalties(
                    session,
                    today=day,
                    as_of=clock.local_midnight(day, timezone),
                    rules=rules,
                    timezone=timezone,
                )
                catchup.mark_done(session, DAILY_PENALTIES, day)
            added += entries  # counted once committed: a day rolled back adds nothing
            booked += 1
        except Exception:  # that day rolled back; in order: the next run starts from it
            log.exception("penalties %s: the day failed and is left for the next run", day.isoformat())
            failed = day
            break
    if first >= today:
        line = f"penalties {today.isoformat()}: {added} entries added"
    else:
        line = f"penalties {first.isoformat()}..{today.isoformat()}: {added} entries added over {booked} days"
    if failed is not None:
        line += f"; 1 day failed ({failed.isoformat()}), the next run books it and the days after"
    return line


def first_penalty_day(session: Session, today: date) -> date:
    """The day after the last one booked (`today` when that is later, so a day is run when asked for).

    Without a record: the day after the last penalty in the ledger, else `today` (a new
    installation has no earlier day to make good).
    """
    finished = catchup.done_through(session, DAILY_PENALTIES)
    if finished is None:
        last = session.exec(
            select(func.max(LedgerEntry.occurred_at)).where(LedgerEntry.kind == LedgerKind.penalty)
        ).one()
        finished = None if last is None else last.date()  # booked at 00:00 UTC of its day
    if finished is None:
        return today
    return min(finished + timedelta(days=1), today)
