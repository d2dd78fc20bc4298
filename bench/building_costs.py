"""The officials' comparison of cost per m2 over a city's published reports, next to a bare GROUP BY.

    python bench/building_costs.py --url postgresql+psycopg://postgres@127.0.0.1:5432/costbench \\
        --buildings 44000 --runs 10 --clients 4 --requests 80 --workers 2

It drops the public schema of the database (refused while its tables hold rows, unless
--reset), migrates it, and writes (before any clock starts): 12 districts, 900 companies,
--buildings buildings each managed by one of them, and for each building a published report on
each of the four quarters 2025-Q4..2026-Q3 with a line in each of the 8 expense categories
(44,000 x 4 x 8 = 1,408,000 lines, written by COPY): each building's area is 1,500-15,000 m2
(one in 200 of zero area), its cost per m2 a category's base rate times a company factor
(0.6-1.8) times noise, one line in a hundred ten times too high. One building in twenty has no
report on 2026-Q3 (late on the officials' page).

Each of --runs runs then times, in a fresh session:

1. baseline: `SELECT company_id, count(*), sum(amount_minor), sum(area_m2) ... WHERE year, quarter,
   category GROUP BY company_id` over the same lines: the least any per-company figure costs;
2. compare one category: housing.building_money.costs.cost_comparison for 2026-Q3 and cleaning
   (the 44,000 buildings' lines read, every building's figure, the medians, MADs and outliers),
   computed afresh (the process's kept comparisons cleared first, as after a report is published);
3. compare all categories together (the lines summed per report in SQL first), afresh;
4. all categories again, nothing published since: the kept comparison, after its version check.

It prints the median and p95 of the runs and each step's ratio to the baseline. Finally it
serves the app with uvicorn (--workers processes, as bench/web.py does) and sends --requests
requests from --clients threads to `GET /city/money` (one category; all; one district),
`GET /api/v1/city/building-costs` and `GET /city/money/late` as an official, next to
`GET /healthz`, and prints p50 and p95 of the server time and of the client's latency.
Target: the comparison p95 under 300 ms.
"""

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal

import benchkit  # bench/benchkit.py, beside this script
import psycopg
import web  # bench/web.py: the server, log-in and load helpers
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from housing.building_money import costs
from housing.building_money.rules import ExpenseCategory, Quarter
from housing.db import make_engine
from housing.settings import Settings

QUARTERS = [Quarter(2025, 4), Quarter(2026, 1), Quarter(2026, 2), Quarter(2026, 3)]
COMPARED = Quarter(2026, 3)
# UZS per m2 a quarter, roughly: what the categories cost a building.
BASE_RATE = {
    "cleaning": 900, "lifts": 600, "roof_and_repairs": 700, "common_utilities": 500,
    "staff": 1200, "materials": 300, "capital_repair": 1500, "other": 200,
}  # fmt: skip
console = Console(width=None if sys.stdout.isatty() else 132)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--buildings", type=int, default=44_000)
    parser.add_argument("--runs", type=int, default=20, help="runs to take the median and p95 of")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (threads) on the pages")
    parser.add_argument("--requests", type=int, default=200, help="requests per page, all clients together")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    if benchkit.refuses_to_drop(conninfo, args.url, args.reset, console):
        return 2
    console.print(f"{benchkit.machine(server)}, {args.buildings:,} buildings, {args.runs} runs")
    started = time.perf_counter()
    benchkit.fresh_schema(conninfo, args.url)
    with psycopg.connect(conninfo) as conn:
        lines = seed(conn, args.buildings)
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    console.print(f"seeded {lines:,} report lines in {time.perf_counter() - started:.0f} s")
    settings = Settings(db={"url": args.url})
    engine = make_engine(settings)
    timings: dict[str, list[float]] = {"baseline": [], "category": [], "all": [], "kept": []}
    try:
        for _ in range(args.runs):
            timings["baseline"].append(baseline(conninfo))
            for step, category in (("category", ExpenseCategory.cleaning), ("all", None)):
                costs._kept.clear()  # computed afresh, as after a report is published
                with Session(engine) as session:
                    started = time.perf_counter()
                    found = costs.cost_comparison(session, COMPARED, category)
                    timings[step].append(time.perf_counter() - started)
                assert found.result.n > 0
            with Session(engine) as session:  # asked again, nothing published since
                started = time.perf_counter()
                costs.cost_comparison(session, COMPARED, None)
                timings["kept"].append(time.perf_counter() - started)
        web.make_official(engine, settings)
    finally:
        engine.dispose()
    report_compare(timings, args, found.result.n, len(found.result.outliers))
    report_pages(page_times(args), args)
    return 0


def seed(conn: psycopg.Connection, buildings: int) -> int:
    """The city and its published reports; returns the number of report lines."""
    benchkit.seed_managed_buildings(conn, buildings)
    rows = conn.execute("SELECT id, district_id FROM building ORDER BY id").fetchall()
    rng = random.Random(14)
    factor = {company: rng.uniform(0.6, 1.8) for company in range(1, 901)}
    area = {
        b: Decimal(0) if rng.random() < 0.005 else Decimal(rng.randint(150_000, 1_500_000)) / 100
        for b, _ in rows
    }
    reports, lines = [], []
    report_id = 0
    for quarter in QUARTERS:
        due_on = quarter.due_on(30)
        for building_id, district_id in rows:
            if quarter == COMPARED and building_id % 20 == 0:
                continue  # not published: late
            report_id += 1
            company = building_id % 900 + 1
            amounts = {}
            for category, rate in BASE_RATE.items():
                per_m2 = (
                    rate * factor[company] * rng.lognormvariate(0, 0.25) * (10 if rng.random() < 0.01 else 1)
                )
                amounts[category] = max(1, round(float(area[building_id] or 100) * per_m2 * 100))
            spent = sum(amounts.values())
            reports.append((
                report_id, building_id, company, quarter.year, quarter.number, area[building_id], spent, spent,
                due_on, True,
            ))  # fmt: skip
            for category, amount in amounts.items():
                lines.append((
                    report_id, building_id, company, district_id, quarter.year, quarter.number, category, amount,
                    area[building_id],
                ))  # fmt: skip
    with conn.cursor().copy(
        "COPY building_report (id, building_id, company_id, year, quarter, currency, area_m2,"
        " opening_balance_minor, income_minor, income_late_minor, expenses_minor, closing_balance_minor,"
        " collected_to_date_minor, debt_minor, accounts_in_debt, accounts, body, due_on, on_time, published_at,"
        " created_at) FROM STDIN"
    ) as copy:
        for rid, building_id, company, year, number, m2, income, spent, due_on, on_time in reports:
            copy.write_row((
                rid, building_id, company, year, number, "UZS", m2, 0, income, 0, spent, 0, income, 0, 0, 0, "{}",
                due_on, on_time, "2026-10-20 09:00+00", "2026-10-20 09:00+00",
            ))  # fmt: skip
    conn.execute("SELECT setval(pg_get_serial_sequence('building_report', 'id'), %s)", (report_id,))
    with conn.cursor().copy(
        "COPY building_report_line (report_id, building_id, company_id, district_id, year, quarter, category,"
        " amount_minor, area_m2) FROM STDIN"
    ) as copy:
        for line in lines:
            copy.write_row(line)
    return len(lines)


def baseline(conninfo: str) -> float:
    """The bare GROUP BY of the same lines, through psycopg alone (a fresh connection each run,
    as a session is)."""
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        conn.execute(
            "SELECT company_id, count(*), sum(amount_minor), sum(area_m2) FROM building_report_line "
            "WHERE year = %s AND quarter = %s AND category = %s GROUP BY company_id",
            (COMPARED.year, COMPARED.number, "cleaning"),
        ).fetchall()
        return time.perf_counter() - started


def report_compare(timings: dict[str, list[float]], args: argparse.Namespace, n: int, outliers: int) -> None:
    table = Table(title=f"The comparison of {COMPARED} over {args.buildings:,} buildings, {args.runs} runs")
    for name in ("step", "median ms", "p95 ms", "vs baseline"):
        table.add_column(name, justify="left" if name == "step" else "right")
    base = statistics.median(timings["baseline"])
    labels = {
        "baseline": "baseline: bare GROUP BY (one category)",
        "category": "cost_comparison, cleaning",
        "all": "cost_comparison, all categories",
        "kept": "cost_comparison, all categories, kept (version check only)",
    }
    for step, values in timings.items():
        middle = statistics.median(values)
        table.add_row(
            labels[step],
            f"{middle * 1000:.1f}",
            f"{_p95([v * 1000 for v in values]):.1f}",
            f"{middle / base:.1f}x",
        )
    console.print(table)
    console.print(f"{n:,} buildings compared in all categories, {outliers:,} outliers marked")


def _p95(values: list[float]) -> float:
    """p95 of the runs; with a single run, that run."""
    return web.percentile(values, 95) if len(values) > 1 else values[0]


def page_times(args: argparse.Namespace) -> dict[str, tuple[list[float], list[float]]]:
    q = str(COMPARED)
    pages = [
        ("baseline: GET /healthz (SELECT 1)", "/healthz", False),
        ("official: GET /city/money (cleaning)", f"/city/money?quarter={q}&category=cleaning", True),
        ("official: GET /city/money (all categories)", f"/city/money?quarter={q}", True),
        ("official: GET /city/money (one district)", f"/city/money?quarter={q}&district_id=3", True),
        ("official: GET /api/v1/city/building-costs", f"/api/v1/city/building-costs?quarter={q}", True),
        ("official: GET /city/money/late", "/city/money/late", True),
    ]
    return web.page_times(args, web.OFFICIAL, pages)


def report_pages(results: dict[str, tuple[list[float], list[float]]], args: argparse.Namespace) -> None:
    web.report_pages(
        results,
        console,
        title=f"The officials' pages over {args.buildings:,} buildings, {args.clients} concurrent clients",
        target="the comparison under 300 ms at p95 (client)",
        limit_ms=300,
        # the comparison, not the late list
        counted=lambda label: "/city/money (" in label or "building-costs" in label,
    )


if __name__ == "__main__":
    sys.exit(main())
