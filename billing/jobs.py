"""Scheduled work of the billing package, as `job(engine, settings, today=None) -> str`.

`monthly_billing` bills the previous month; schedule it on the 1st at 02:00 Asia/Tashkent.
`bill_period` (the job and `housing bill`) takes the unbilled apartments' ids once, cuts
them into batches of `runs.BATCH` and bills each batch in its own transaction, in
`workers` processes at once (PostgreSQL; default: the machine's CPUs, at most
`MAX_WORKERS`). Drafting a batch's invoices is the expensive part and runs without the
lock; each transaction takes the lock only to number its invoices and write them
(`billing.runs`), so the workers overlap everywhere else. A batch that fails (or a worker
that dies) loses that batch only: the summary counts it, its apartments stay unbilled and
the next run finds them. A second run while one is going is skipped (a session-level
advisory lock held by the run's parent); one started after it finds only what is left.

Invoice numbers follow the order of issue: within a batch the apartments' order, and the
batches in the order their transactions commit, which with several workers need not be
the apartments' order. Numbers stay sequential per company and year, without gaps or
duplicates, and a later number is never issued earlier; what a number says is which
invoice it is, not where the flat is, so the order among flats billed at once is left to
the workers.

`daily_penalties` books today's late penalties in one transaction (a second run the same
day adds nothing). `today` may be given to run either by hand or under a frozen clock.
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

from sqlalchemy import Engine, text

from billing.ledger import accrue_penalties
from billing.runs import BATCH, PreparedRun, check_period, run_billing, unbilled_apartment_ids
from housing.clock import local_today
from housing.db import is_postgres, make_engine, session_scope
from housing.settings import Settings

log = logging.getLogger(__name__)

MAX_WORKERS = 4
RUN_LOCK_KEY = zlib.crc32(b"housing-billing-run:whole-run")  # not runs.LOCK_KEY, which batches take

# A worker process's `PreparedRun`s by (period, timezone): read before its first batch and
# kept for the others (the process ends with the pool, and they with it).
_prepared_in_worker: dict[tuple[date, str], PreparedRun] = {}


def previous_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def default_workers() -> int:
    """The machine's CPUs, at most `MAX_WORKERS` (the database needs some of them too)."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def monthly_billing(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Issues last month's missing invoices; a summary line."""
    today = today or local_today(settings.scheduler.timezone)
    return bill_period(engine, settings, previous_month(today), today)


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
    if workers is None:
        workers = default_workers()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    check_period(period, today, settings.scheduler.timezone)  # raised here, not as a failed batch each
    if not is_postgres(engine):
        # SQLite takes one writer at a time and has no advisory lock (its numbering relies on
        # that single writer), so a second process would only wait: bill in this one.
        workers = 1
    with _run_lock(engine) as granted:
        if not granted:
            return f"billing {period:%Y-%m}: skipped, another billing run holds the lock"
        with session_scope(engine) as session:
            ids = unbilled_apartment_ids(session, period)
        batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
        if workers == 1 or len(batches) <= 1:
            prepared: dict[tuple[date, str], PreparedRun] = {}
            results = [_bill_batch(engine, settings, period, today, batch, prepared) for batch in batches]
        else:
            results = _bill_in_workers(settings, period, today, batches, min(workers, len(batches)))
    return _summary_line(period, results)


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
    timezone = settings.scheduler.timezone
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
            )
    except Exception as exc:  # one batch lost, not the run: its apartments stay unbilled
        log.exception("billing %s: a batch of %d apartments failed", period, len(ids))
        return BatchResult(apartments=len(ids), error=repr(exc))
    return BatchResult(
        apartments=len(ids),
        issued=summary.issued,
        total_minor=summary.total_minor,
        without_manager=summary.without_manager,
        without_lines=summary.without_lines,
        held_back=summary.failed,
        warnings=summary.warning_count,
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
    """Books today's late-payment penalties; a summary line."""
    today = today or local_today(settings.scheduler.timezone)
    with session_scope(engine) as session:
        added = accrue_penalties(session, today=today)
    return f"penalties {today.isoformat()}: {added} entries added"
