"""How fast every company's quality score is computed for a year, next to a bare GROUP BY.

    python bench/scores.py --url postgresql+psycopg://postgres@127.0.0.1:5432/scorebench \\
        --companies 900 --requests 1000000 --runs 3

It drops the public schema of the database, migrates it, and writes a city in SQL
(INSERT ... SELECT over generate_series, before any clock starts): --companies companies
in 12 districts, 10 buildings of 20 apartments each, 1% of buildings handed to another
company mid-year, --requests service requests from the start of the 12 months up to now (company
sizes skewed so that small samples occur, 5% emergencies, 90% resolved, 60% of those
rated, 5% reopened), and 20 unplanned incidents a building. Each run then times:

1. baseline: `SELECT company_id, month, count(*) ... GROUP BY` over the same requests and
   months, the least any per-company monthly figure can cost;
2. compute: housing.scores.service.compute_scores for all 12 months at once (the three
   set-based aggregations, then the pure scoring of every company-month in Python);
3. compute + store, as the nightly job and `housing scores` do it: each month recomputed
   and its rows replaced in its own transaction.

It prints the median of the runs and each step's ratio to the baseline.
"""

import argparse
import statistics
import sys
import time

import benchkit  # bench/benchkit.py, beside this script
import psycopg
from rich.console import Console
from rich.table import Table

from housing import clock
from housing.db import make_engine, session_scope, utcnow
from housing.scores import service
from housing.settings import Settings

TIMEZONE = "Asia/Tashkent"
console = Console()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--companies", type=int, default=900)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of (default 3)")
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    if benchkit.refuses_to_drop(conninfo, args.url, args.reset, console):
        return 2

    now = utcnow()
    months = [clock.month(p, TIMEZONE) for p in clock.last_months(clock.month_at(now, TIMEZONE), 12)]
    console.print(
        f"{benchkit.machine(server)}, "
        f"{args.companies:,} companies, {args.requests:,} requests, "
        f"{months[0].label}..{months[-1].label}, {args.runs} run(s)"
    )
    started = time.perf_counter()
    benchkit.fresh_schema(conninfo, args.url)
    with psycopg.connect(conninfo) as conn:
        seed(conn, args.companies, args.requests, months)
    console.print(f"seeded in {time.perf_counter() - started:.0f} s")

    engine = make_engine(Settings(db={"url": args.url}))
    timings: dict[str, list[float]] = {"baseline": [], "compute": [], "store": []}
    scored = 0
    for run in range(1, args.runs + 1):
        seconds, groups = baseline(conninfo, months)
        timings["baseline"].append(seconds)
        started = time.perf_counter()
        with session_scope(engine) as session:
            computed = service.compute_scores(session, months, as_of=now)
        timings["compute"].append(time.perf_counter() - started)
        started = time.perf_counter()
        scored = 0
        for month in months:
            with session_scope(engine) as session:
                scored += service.recompute_month(session, month, now=now)
        timings["store"].append(time.perf_counter() - started)
        assert scored == sum(len(v) for v in computed.values())
        console.print(
            f"run {run}: baseline {timings['baseline'][-1]:.2f} s ({groups:,} groups), "
            f"compute {timings['compute'][-1]:.2f} s, compute + store {timings['store'][-1]:.2f} s"
        )
    engine.dispose()
    report({k: statistics.median(v) for k, v in timings.items()}, scored, args)
    return 0


def seed(conn: psycopg.Connection, companies: int, requests: int, months: list[clock.Month]) -> None:
    first = months[0].starts
    mid_year = clock.add_months(months[0].period, 6)
    conn.execute(
        "INSERT INTO district (name, city, created_at, updated_at) "
        "SELECT 'District ' || g, 'Tashkent', now(), now() FROM generate_series(1, 12) g"
    )
    conn.execute(
        "INSERT INTO management_company (name, tax_id, district_id, created_at, updated_at) "
        "SELECT 'Company ' || g, (300000000 + g)::text, 1 + g %% 12, now(), now() "
        "FROM generate_series(1, %s) g",
        (companies,),
    )
    conn.execute(
        "INSERT INTO building (address, district_id, latitude, longitude, floors, created_at, updated_at) "
        "SELECT 'Street ' || g, 1 + ((g - 1) / 10) %% 12, 41.3, 69.3, 9, now(), now() "
        "FROM generate_series(1, %s) g",
        (companies * 10,),
    )
    conn.execute(
        "INSERT INTO building_management (building_id, company_id, valid_from, valid_until, created_at) "
        "SELECT id, 1 + (id - 1) / 10, DATE '2020-01-01', CASE WHEN id %% 100 = 0 THEN %s END, now() "
        "FROM building",
        (mid_year + (clock.add_months(mid_year, 1) - mid_year) / 2,),
    )
    # 1% of buildings change hands in the middle of a month, half a year ago.
    conn.execute(
        "INSERT INTO building_management (building_id, company_id, valid_from, created_at) "
        "SELECT building_id, 1 + company_id %% %s, valid_until, now() FROM building_management "
        "WHERE valid_until IS NOT NULL",
        (companies,),
    )
    conn.execute(
        "INSERT INTO apartment (building_id, number, area_m2, registered_residents, account_number, "
        "created_at, updated_at) "
        "SELECT b.id, n::text, 54.3, 3, (b.id * 100 + n)::text, now(), now() "
        "FROM building b CROSS JOIN generate_series(1, 20) n"
    )
    conn.execute(
        "INSERT INTO request_category (code, name, deadline_minutes, emergency, active, created_at, updated_at) "
        "VALUES ('bench', 'Bench', 1440, false, true, now(), now())"
    )
    conn.execute(
        "INSERT INTO user_account (username, password_hash, role, is_active, created_at, updated_at) "
        "VALUES ('bench', 'x', 'admin', true, now(), now())"
    )
    buildings = companies * 10
    # Building ids skewed by random()^3: low-numbered companies get most requests, high ones a
    # handful, so that shrinkage has small samples to work on. Each company has its own pace.
    conn.execute(
        """
        INSERT INTO service_request (company_id, building_id, category_id, filed_by_id, description,
            emergency, status, created_at, deadline_at, accepted_at, resolved_at, overdue, overdue_at,
            escalated, reopen_count, rating, updated_at)
        SELECT company_id, building_id, 1, 1, 'bench', emergency,
            CASE WHEN resolved_at IS NULL THEN 'accepted' ELSE 'resolved' END,
            created_at, deadline_at, created_at + interval '2 minutes', resolved_at,
            coalesce(resolved_at > deadline_at, deadline_at < now()),
            CASE WHEN coalesce(resolved_at > deadline_at, deadline_at < now()) THEN deadline_at END,
            false,
            CASE WHEN resolved_at IS NOT NULL AND r3 > 0.95 THEN 1 ELSE 0 END,
            CASE WHEN resolved_at IS NOT NULL AND r3 < 0.6 THEN 1 + floor(r3 / 0.6 * 5)::int END,
            created_at
        FROM (
            SELECT x.*, bm.company_id,
                x.created_at + CASE WHEN x.emergency THEN interval '30 minutes' ELSE interval '1 day' END
                    AS deadline_at,
                CASE WHEN x.r1 < 0.9 THEN x.created_at + (-ln(1 - x.r2) * (1 + bm.company_id %% 7)
                    * CASE WHEN x.emergency THEN 0.1 ELSE 4 END) * interval '1 hour' END AS resolved_at
            FROM (
                SELECT 1 + floor(%(buildings)s * random() ^ 3)::int AS building_id,
                    %(first)s + random() * (now() - %(first)s) AS created_at,
                    random() < 0.05 AS emergency, random() AS r1, random() AS r2, random() AS r3
                FROM generate_series(1, %(requests)s)
            ) x
            JOIN building_management bm ON bm.building_id = x.building_id
                AND bm.valid_from <= (x.created_at AT TIME ZONE 'Asia/Tashkent')::date
                AND (bm.valid_until IS NULL OR bm.valid_until > (x.created_at AT TIME ZONE 'Asia/Tashkent')::date)
        ) r
        """,
        {"buildings": buildings, "first": first, "requests": requests},
    )
    conn.execute(
        """
        INSERT INTO service_incident (building_id, utility, source, origin, started_at, ended_at, detail, created_at)
        SELECT b, 'hot_water', 'sensor', 'sensor:bench-' || g, s, s + (1 + 47 * random()) * interval '1 hour',
            '', now()
        FROM (
            SELECT g, 1 + floor(%(buildings)s * random())::int AS b,
                %(first)s + random() * (now() - %(first)s - interval '2 days') AS s
            FROM generate_series(1, %(incidents)s) g
        ) i
        """,
        {"buildings": buildings, "first": first, "incidents": buildings * 20},
    )
    conn.commit()
    with psycopg.connect(conn.info.dsn, autocommit=True) as vacuum:
        vacuum.execute("VACUUM ANALYZE")


def baseline(conninfo: str, months: list[clock.Month]) -> tuple[float, int]:
    """The least a per-company monthly figure can cost: count the same requests by company and month."""
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        rows = conn.execute(
            "SELECT company_id, date_trunc('month', created_at AT TIME ZONE %s) AS month, count(*) "
            "FROM service_request WHERE created_at >= %s AND created_at < %s GROUP BY 1, 2",
            (TIMEZONE, months[0].starts, months[-1].ends),
        ).fetchall()
        return time.perf_counter() - started, len(rows)


def report(median: dict[str, float], scored: int, args: argparse.Namespace) -> None:
    table = Table(title=f"Quality scores, 12 months, median of {args.runs} run(s)")
    for name, justify in (("step", "left"), ("seconds", "right"), ("vs baseline", "right")):
        table.add_column(name, justify=justify)
    for label, key in (
        ("baseline: bare count(*) GROUP BY company, month", "baseline"),
        ("compute_scores, all months at once", "compute"),
        ("compute + store, one transaction per month (as the job)", "store"),
    ):
        table.add_row(label, f"{median[key]:.2f}", f"{median[key] / median['baseline']:.1f}x")
    console.print(table)
    console.print(
        f"{scored:,} company-months scored from {args.requests:,} requests; target under 30 s: "
        + ("[green]met[/green]" if median["store"] < 30 else "[red]missed[/red]")
    )


if __name__ == "__main__":
    sys.exit(main())
