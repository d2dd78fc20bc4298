"""How fast the monthly billing run issues invoices, next to one set-based SQL statement.

    python bench/billing_run.py --apartments 100000 --workers 1 2 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/billbench

The first time (or with --reseed) it replaces the database's public schema with a fresh,
migrated one and seeds a city through the project's seeders: `seed_city`, `seed_meters`
(four meters per apartment, a heat meter per building), `seed_reading_history` (smart
meters daily through the billed month, manual ones once a month) and the Tashkent
tariffs. Later runs reuse the seeded city when it has the same number of apartments.

Then, each in its own fresh process (so peak memory is the step's own), on the same data
(the baseline's transaction is rolled back; the run commits, and its invoices, lines and
charges are truncated after it, and before it in case an invocation was interrupted: the
seeded city has no others):

(a) baseline: one `INSERT ... SELECT` per table (invoices, lines, ledger charges) that
    computes the month's lines in SQL: a per_unit line per apartment meter from the
    readings at the month's ends (interpolated, or extrapolated from the last two
    readings), the per-person norm where a water meter has too few readings, and the
    flat lines (area, residents). It knows nothing of corrections, backwards readings,
    replacements, averages, deductions or tariff changes inside the month;
(b) `billing.jobs.bill_period` for the same month, as `housing bill --workers N` runs it
    (one transaction per batch of `billing.runs.facts.BATCH`), once for each N of --workers.

It prints the rates, each run's ratio to the baseline, peak resident memory (the run's
parent and its largest worker process), and each side's invoice count, line count, total
and metered-line sum, so that the baseline is seen to bill the same.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, Engine, func, make_url, select, text

from billing.jobs import bill_period
from billing.ledger.penalties import due_date
from billing.models import Invoice, InvoiceLine, LedgerEntry, QuantitySource
from billing.runs.prepared import month_bounds
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing import migrate
from housing.clock import add_months
from housing.db import make_engine
from housing.registry.models import Apartment
from housing.registry.seeding import seed_city
from housing.settings import Settings
from sensors.ingest.partitions import ensure_reading_partitions
from sensors.seeding import seed_meters, seed_reading_history

PERIOD = date(2026, 10, 1)  # the billed month
TODAY = date(2026, 11, 1)  # the day after it: smart meters have read its last midnight
HISTORY_MONTHS = 3  # readings from 1 July (manual meters: one a month, so they have a line)
ROOT = Path(__file__).resolve().parents[1]
console = Console(width=170)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", required=True, help="postgresql+psycopg://... of a scratch database"
    )
    parser.add_argument("--apartments", type=int, default=100_000)
    parser.add_argument("--reseed", action="store_true", help="replace the schema and seed again")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="the run's worker processes, one run for each"
    )
    parser.add_argument("--step", choices=("baseline", "ours"), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    url = make_url(args.database_url)
    if url.get_backend_name() != "postgresql":
        console.print("[red]The benchmark measures PostgreSQL; give a postgresql+psycopg:// URL.[/red]")
        return 2
    if args.step == "baseline":
        print(json.dumps(run_baseline(args.database_url)))
        return 0
    if args.step == "ours":
        print(json.dumps(run_ours(args.database_url, args.workers[0])))
        return 0

    seeded = prepare(args.database_url, args.apartments, args.reseed)
    console.print(seeded)
    base = child(args.database_url, "baseline")
    ours = {n: child(args.database_url, "ours", n) for n in args.workers}
    report(args.apartments, base, ours)
    return 0


# Seeding


def prepare(url: str, apartments: int, reseed: bool) -> str:
    engine = make_engine(Settings(db={"url": url}))
    try:
        with engine.connect() as connection:
            stored = _stored_apartments(connection)
        if stored == apartments and not reseed:
            return f"reusing the seeded city of {stored:,} apartments (--reseed to seed again)"
        if stored and not reseed:
            raise SystemExit(
                f"the database holds {stored:,} apartments, not {apartments:,}; pass --reseed to replace it"
            )
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(url)
        first = add_months(PERIOD, -HISTORY_MONTHS)
        with engine.begin() as connection:  # monthly partitions for the history, as the job would have
            ensure_reading_partitions(connection, first, HISTORY_MONTHS + 1)
        lines = [
            seed_city(engine, apartments=apartments),
            seed_meters(engine, today=TODAY),
            seed_reading_history(engine, months=HISTORY_MONTHS, today=TODAY),
            seed_tashkent_tariffs(engine),
        ]
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        return "\n".join(lines)
    finally:
        engine.dispose()


def _stored_apartments(connection: Connection) -> int:
    exists = connection.execute(text("SELECT to_regclass('public.apartment') IS NOT NULL")).scalar_one()
    if not exists:
        return 0
    return connection.execute(select(func.count()).select_from(Apartment)).scalar_one()


# The two steps, each run in a child process


def child(url: str, step: str, workers: int = 1) -> dict:
    console.print(
        f"running {step} ..." if step == "baseline" else f"running {step} with {workers} workers ..."
    )
    done = subprocess.run(
        [sys.executable, __file__, "--database-url", url, "--step", step, "--workers", str(workers)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        console.print(done.stderr)
        raise SystemExit(f"{step} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(url: str, workers: int) -> dict:
    settings = Settings(db={"url": url})
    engine = make_engine(settings)
    _delete_invoices(engine)
    started = time.perf_counter()
    summary = bill_period(engine, settings, PERIOD, TODAY, workers=workers)
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        totals = _totals(connection)
    _delete_invoices(engine)
    engine.dispose()
    workers_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if workers > 1 else 0
    return totals | {
        "seconds": seconds,
        "summary": summary,
        "rss_kib": _peak_rss_kib(),
        "worker_kib": workers_kib,
    }


def _delete_invoices(engine: Engine) -> None:
    """The run's invoices, lines and charges, so the next step bills the same city.

    TRUNCATE: the seeded city has no invoices but the month's, and a DELETE of 700,000 lines
    checks each against `ledger_entry.invoice_line_id` (no index there) for hours.
    """
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE invoice_line, ledger_entry, invoice CASCADE"))


def run_baseline(url: str) -> dict:
    engine = make_engine(Settings(db={"url": url}))
    _delete_invoices(engine)
    _, end, start_at, end_at = month_bounds(PERIOD)
    values = {
        "period": PERIOD,
        "month": PERIOD.month,
        "start_at": start_at,
        "end_at": end_at,
        "end_day": end,
        "last_day": end - timedelta(days=1),
        "due": due_date(PERIOD),
    }
    with engine.connect() as connection:
        started = time.perf_counter()
        for statement in BASELINE:
            connection.execute(text(statement), values)
        seconds = time.perf_counter() - started
        totals = _totals(connection)
        connection.rollback()
    engine.dispose()
    return totals | {"seconds": seconds, "summary": "", "rss_kib": _peak_rss_kib(), "worker_kib": 0}


def _totals(connection: Connection) -> dict:
    invoices, total = connection.execute(
        select(func.count(), func.coalesce(func.sum(Invoice.total_minor), 0)).where(Invoice.period == PERIOD)
    ).one()
    lines_of_period = select(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
    lines = connection.execute(
        select(func.count()).select_from(lines_of_period.where(Invoice.period == PERIOD).subquery())
    ).scalar_one()
    metered_count, metered_sum = connection.execute(
        select(func.count(), func.coalesce(func.sum(InvoiceLine.amount_minor), 0))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.period == PERIOD,
            InvoiceLine.quantity_source.in_(
                [QuantitySource.metered.value, QuantitySource.metered_estimated.value]
            ),
        )
    ).one()
    charges = connection.execute(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.invoice_id.is_not(None))
    ).scalar_one()
    return {
        "invoices": invoices,
        "lines": lines,
        "total_minor": int(total),
        "metered_lines": metered_count,
        "metered_minor": int(metered_sum),
        "charges": charges,
    }


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# The baseline: the month's lines computed in SQL into a scratch table, then invoices,
# lines and ledger charges each by one INSERT ... SELECT. Boundary values come from the
# readings on either side (two LATERAL index lookups each), extrapolated from the last two
# readings before the end when nothing follows it (at most 31 days), as the run does.
_BOUNDARY = """
    LEFT JOIN LATERAL (SELECT taken_at AS t, value AS v FROM reading r WHERE r.meter_id = m.id
        AND r.taken_at <= {at} ORDER BY taken_at DESC LIMIT 1) {p}0 ON true
    LEFT JOIN LATERAL (SELECT taken_at AS t, value AS v FROM reading r WHERE r.meter_id = m.id
        AND r.taken_at <= {at} ORDER BY taken_at DESC OFFSET 1 LIMIT 1) {p}1 ON true
    LEFT JOIN LATERAL (SELECT taken_at AS t, value AS v FROM reading r WHERE r.meter_id = m.id
        AND r.taken_at > {at} ORDER BY taken_at LIMIT 1) {p}2 ON true"""


def _value_at(p: str, at: str) -> str:
    """The register at `at`: as read, interpolated, or extrapolated from the two before it."""
    return f"""CASE
        WHEN {p}0.t = {at} THEN {p}0.v
        WHEN {p}0.t IS NOT NULL AND {p}2.t IS NOT NULL THEN {p}0.v + ({p}2.v - {p}0.v)
            * extract(epoch FROM {at} - {p}0.t) / extract(epoch FROM {p}2.t - {p}0.t)
        WHEN {p}1.t IS NOT NULL AND {p}2.t IS NULL AND {at} - {p}0.t <= interval '31 days'
            THEN {p}0.v + ({p}0.v - {p}1.v)
            * extract(epoch FROM {at} - {p}0.t) / extract(epoch FROM {p}0.t - {p}1.t)
    END"""


BASELINE = (
    f"""
CREATE TEMP TABLE bench_line ON COMMIT DROP AS
WITH apt AS (
    SELECT a.id, a.area_m2, a.registered_residents AS residents, bm.company_id
    FROM apartment a
    JOIN building_management bm ON bm.building_id = a.building_id
        AND bm.valid_from <= CAST(:last_day AS date)
        AND (bm.valid_until IS NULL OR bm.valid_until > CAST(:last_day AS date))
    WHERE NOT EXISTS (SELECT 1 FROM invoice i WHERE i.apartment_id = a.id AND i.period = :period)
),
tariff_now AS (  -- the city-wide tariff of each service and basis in force on the month's first day
    SELECT t.id, t.service_id, t.basis FROM tariff t
    WHERE t.company_id IS NULL AND t.valid_from <= :period AND (t.valid_until IS NULL OR t.valid_until > :period)
),
tier AS (  -- each tier's bounds in this month, the seasonal norm moving the first one
    SELECT tt.tariff_id, tt.price_minor,
        coalesce(lag(coalesce(sn.up_to, tt.up_to)) OVER w, 0) AS lower,
        coalesce(sn.up_to, tt.up_to) AS upper
    FROM tariff_tier tt
    LEFT JOIN seasonal_norm sn ON sn.tariff_id = tt.tariff_id AND tt.position = 1
        AND CAST(:month AS text) = ANY(string_to_array(sn.months, ','))
    WINDOW w AS (PARTITION BY tt.tariff_id ORDER BY tt.position)
),
consumption AS (
    SELECT m.apartment_id, m.kind,
        round(({_value_at("e", ":end_at")}) - ({_value_at("s", ":start_at")}), 3) AS quantity
    FROM meter m {_BOUNDARY.format(at=":start_at", p="s")} {_BOUNDARY.format(at=":end_at", p="e")}
    WHERE m.apartment_id IS NOT NULL AND m.installed_on < :end_day
        AND (m.removed_on IS NULL OR m.removed_on > :period)
),
quantity AS (
    -- by meter where the consumption is known; the per-person norm where it is not
    SELECT apt.id AS apartment_id, apt.company_id, s.id AS service_id,
        CASE WHEN c.quantity IS NOT NULL THEN u.id ELSE n.id END AS tariff_id,
        CASE WHEN c.quantity IS NOT NULL THEN 'per_unit' ELSE 'per_person' END AS basis,
        coalesce(c.quantity, apt.residents) AS quantity,
        CASE WHEN c.quantity IS NOT NULL THEN 'metered' ELSE 'norm' END AS source
    FROM apt
    JOIN service s ON s.meter_kind IS NOT NULL
    JOIN tariff_now u ON u.service_id = s.id AND u.basis = 'per_unit'
    LEFT JOIN tariff_now n ON n.service_id = s.id AND n.basis = 'per_person'
    JOIN consumption c ON c.apartment_id = apt.id AND c.kind = s.meter_kind
    WHERE c.quantity IS NOT NULL OR (n.id IS NOT NULL AND apt.residents > 0)
    UNION ALL  -- flat lines: per m2 and per registered person
    SELECT apt.id, apt.company_id, s.id, t.id, t.basis,
        CASE t.basis WHEN 'per_m2' THEN apt.area_m2 ELSE apt.residents END,
        CASE t.basis WHEN 'per_m2' THEN 'area' ELSE 'residents' END
    FROM apt
    JOIN service s ON s.meter_kind IS NULL
    JOIN tariff_now t ON t.service_id = s.id AND t.basis IN ('per_m2', 'per_person')
    WHERE CASE t.basis WHEN 'per_m2' THEN apt.area_m2 ELSE apt.residents END > 0
)
SELECT q.*, (
    SELECT round(sum(greatest(least(q.quantity, coalesce(tier.upper, q.quantity)) - tier.lower, 0)
        * tier.price_minor))
    FROM tier WHERE tier.tariff_id = q.tariff_id
)::bigint AS amount_minor
FROM quantity q
""",
    """
INSERT INTO invoice (id, apartment_id, company_id, period, year, sequence, number, status, issued_at,
    due_date, total_minor, currency, created_at, updated_at)
SELECT nextval(pg_get_serial_sequence('invoice', 'id')), b.apartment_id, b.company_id, :period,
    extract(year FROM CAST(:period AS date)), b.sequence,
    extract(year FROM CAST(:period AS date)) || '-' || lpad(b.sequence::text, 6, '0'),
    'issued', now(), :due, b.total, 'UZS', now(), now()
FROM (
    SELECT l.apartment_id, l.company_id, sum(l.amount_minor) AS total,
        coalesce(max(used.last), 0) + row_number() OVER (PARTITION BY l.company_id ORDER BY l.apartment_id)
            AS sequence
    FROM bench_line l
    LEFT JOIN (SELECT company_id, max(sequence) AS last FROM invoice
               WHERE year = extract(year FROM CAST(:period AS date)) GROUP BY company_id) used
        ON used.company_id = l.company_id
    GROUP BY l.apartment_id, l.company_id
) b
""",
    """
INSERT INTO invoice_line (invoice_id, service_id, tariff_id, basis, quantity, quantity_source,
    explanation, amount_minor, deduction_minor, deduction_reason, created_at)
SELECT i.id, l.service_id, l.tariff_id, l.basis, l.quantity, l.source,
    json_build_object('source', l.source, 'quantity', l.quantity), l.amount_minor, 0, '', now()
FROM bench_line l JOIN invoice i ON i.apartment_id = l.apartment_id AND i.period = :period
""",
    """
INSERT INTO ledger_entry (apartment_id, kind, amount_minor, currency, invoice_id, reference, dedupe_key,
    occurred_at, created_at)
SELECT i.apartment_id, 'charge', i.total_minor, 'UZS', i.id, i.number, 'charge:' || i.id, now(), now()
FROM invoice i WHERE i.period = :period AND i.total_minor > 0
""",
)


def report(apartments: int, base: dict, ours: dict[int, dict]) -> None:
    table = Table(title=f"Billing {PERIOD:%Y-%m} for {apartments:,} apartments")
    table.add_column("step")
    for column in (
        "invoices",
        "lines",
        "metered lines",
        "metered tiyin",
        "total tiyin",
        "seconds",
        "x baseline",
    ):
        table.add_column(column, justify="right")
    table.add_column("invoices/s", justify="right")
    table.add_column("peak RSS (largest worker)", justify="right")
    rows = [("(a) baseline: INSERT ... SELECT", base)]
    rows += [(f"(b) bill_period, {n} worker{'s' if n > 1 else ''}", r) for n, r in ours.items()]
    for label, r in rows:
        rss = f"{r['rss_kib'] / 1024:.0f} MiB"
        if r["worker_kib"]:
            rss += f" ({r['worker_kib'] / 1024:.0f} MiB)"
        table.add_row(
            label,
            f"{r['invoices']:,}",
            f"{r['lines']:,}",
            f"{r['metered_lines']:,}",
            f"{r['metered_minor']:,}",
            f"{r['total_minor']:,}",
            f"{r['seconds']:.1f}",
            f"{r['seconds'] / base['seconds']:.2f}",
            f"{r['invoices'] / r['seconds']:,.0f}",
            rss,
        )
    console.print(table)
    for n, r in ours.items():
        console.print(f"{n} worker{'s' if n > 1 else ''}: {r['summary']}")
    console.print(
        f"{platform.node()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f},"
        f" Python {platform.python_version()}, {date.today()}"
    )


if __name__ == "__main__":
    sys.exit(main())
