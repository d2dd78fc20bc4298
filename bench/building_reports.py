"""How fast a quarter's reports are made for every building of a large company, next to a bare SQL sum.

    python bench/building_reports.py --url postgresql+psycopg://postgres@127.0.0.1:5432/reportbench \\
        --buildings 1000 --apartments 20 --runs 3

It drops the public schema of the database, migrates it, and writes in SQL (INSERT ... SELECT
over generate_series, before any clock starts) one company managing --buildings buildings of
--apartments flats each, six months of bills (April to September 2026: a management-fee line
and a waste line each, with their ledger charges), payments of nine bills in ten (one in ten of
those a part only), and five expenses a building in 2026-Q3. Each run then times:

1. baseline: one `SELECT building_id, sum(amount) ... GROUP BY` of the same ledger rows (the
   money paid before the quarter's end), the least any per-building income figure can cost;
2. collected_by_building: the income rule for all the buildings at once (one query per table);
3. drafts: `report_drafts` of 2026-Q3 for all the buildings at once (the figures, the works,
   the debt; one query per table);
4. publish: `publish_reports` of 2026-Q3 for all the buildings in one transaction (the row
   locks, the checks, the frozen rows, the category lines, the owners' notices), rolled back
   so the next run starts clean.

It prints the median of the runs and each step's ratio to the baseline.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, date, datetime

import benchkit  # bench/benchkit.py, beside this script
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlmodel import Session

from billing.building_accounts.income import collected_by_building
from billing.building_accounts.reports import moment, publish_reports, report_drafts
from housing.accounts.models import Role
from housing.actors import Actor
from housing.building_money.rules import Quarter
from housing.db import make_engine
from housing.settings import Settings

QUARTER = Quarter(2026, 3)
TODAY = date(2026, 10, 20)
console = Console()

SEED = """
INSERT INTO user_account (id, username, password_hash, role, is_active, created_at, updated_at)
    VALUES (1, 'bench-admin', '-', 'admin', true, now(), now());
INSERT INTO district (id, name, city, created_at, updated_at) VALUES (1, 'Yunusobod', 'Tashkent', now(), now());
INSERT INTO management_company (id, name, tax_id, created_at, updated_at)
    VALUES (1, 'Bench Uy-Joy', '300000001', now(), now());
INSERT INTO building (id, address, district_id, latitude, longitude, floors, created_at, updated_at)
    SELECT b, 'Bench street ' || b, 1, 41.3, 69.28, 9, now(), now() FROM generate_series(1, %(buildings)s) b;
INSERT INTO building_management (building_id, company_id, valid_from, created_at)
    SELECT b, 1, date '2020-01-01', now() FROM generate_series(1, %(buildings)s) b;
INSERT INTO apartment (id, building_id, number, area_m2, registered_residents, account_number, created_at, updated_at)
    SELECT a, (a - 1) / %(apartments)s + 1, ((a - 1) %% %(apartments)s + 1)::text, 40 + a %% 50, 1 + a %% 4,
           (10000000 + a)::text, now(), now()
    FROM generate_series(1, %(buildings)s * %(apartments)s) a;
INSERT INTO service (id, code, name, unit, created_at, updated_at)
    VALUES (1, 'management', 'Management', 'm2', now(), now()), (2, 'waste', 'Waste removal', 'person', now(), now());
INSERT INTO invoice (id, apartment_id, company_id, period, year, sequence, number, status, issued_at, due_date,
                     total_minor, currency, created_at, updated_at)
    SELECT (m - 1) * n.total + a, a, 1, make_date(2026, 3 + m, 1), 2026, (m - 1) * n.total + a,
           '2026-' || lpad(((m - 1) * n.total + a)::text, 8, '0'), 'issued',
           make_date(2026, 3 + m, 1) + interval '1 month 2 hours',
           (make_date(2026, 3 + m, 1) + interval '1 month 14 days')::date,
           (40 + a %% 50) * 182300 + (1 + a %% 4) * 750000, 'UZS', now(), now()
    FROM generate_series(1, 6) m, generate_series(1, %(buildings)s * %(apartments)s) a,
         (SELECT %(buildings)s * %(apartments)s AS total) n;
INSERT INTO invoice_line (invoice_id, service_id, basis, quantity, quantity_source, amount_minor, explanation,
                          deduction_minor, deduction_reason, created_at)
    SELECT i.id, 1, 'per_m2', 40 + i.apartment_id %% 50, 'area', (40 + i.apartment_id %% 50) * 182300, '{}'::json, 0, '', now()
    FROM invoice i
    UNION ALL
    SELECT i.id, 2, 'per_person', 1 + i.apartment_id %% 4, 'residents', (1 + i.apartment_id %% 4) * 750000, '{}'::json, 0, '',
           now()
    FROM invoice i;
INSERT INTO ledger_entry (apartment_id, kind, amount_minor, currency, invoice_id, reference, occurred_at, created_at)
    SELECT apartment_id, 'charge', total_minor, 'UZS', id, '', issued_at, now() FROM invoice;
INSERT INTO ledger_entry (apartment_id, kind, amount_minor, currency, reference, occurred_at, created_at)
    SELECT apartment_id, 'payment', CASE WHEN id %% 10 = 1 THEN -(total_minor / 2) ELSE -total_minor END, 'UZS',
           'bank-' || id, issued_at + interval '9 days', now()
    FROM invoice WHERE id %% 10 <> 0;
INSERT INTO building_expense (building_id, company_id, spent_on, category, amount_minor, currency, supplier,
                              description, created_at)
    SELECT b, 1, date '2026-07-01' + (e * 17), (ARRAY['cleaning', 'lifts', 'staff', 'materials', 'other'])[e + 1],
           1000000 + b * 100 + e, 'UZS', 'Usta MChJ', 'bench', now()
    FROM generate_series(1, %(buildings)s) b, generate_series(0, 4) e;
SELECT setval(pg_get_serial_sequence('user_account', 'id'), 1);
SELECT setval(pg_get_serial_sequence('invoice', 'id'), (SELECT max(id) FROM invoice));
SELECT setval(pg_get_serial_sequence('apartment', 'id'), (SELECT max(id) FROM apartment));
SELECT setval(pg_get_serial_sequence('building', 'id'), (SELECT max(id) FROM building));
ANALYZE;
"""

BASELINE = """
SELECT a.building_id, -sum(l.amount_minor)
FROM ledger_entry l JOIN apartment a ON a.id = l.apartment_id
WHERE l.kind IN ('payment', 'refund') AND l.occurred_at < :until
GROUP BY a.building_id
"""


def seed(conninfo: str, url: str, buildings: int, apartments: int) -> None:
    benchkit.fresh_schema(conninfo, url)
    script = SEED % {"buildings": int(buildings), "apartments": int(apartments)}  # two integers only
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in script.split(";\n"):
            if statement.strip():
                conn.execute(statement)


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--buildings", type=int, default=1000)
    parser.add_argument("--apartments", type=int, default=20, help="flats a building (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of (default 3)")
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    if benchkit.refuses_to_drop(conninfo, args.url, args.reset, console):
        return 2
    started = time.perf_counter()
    seed(conninfo, args.url, args.buildings, args.apartments)
    console.print(
        f"seeded {args.buildings:,} buildings x {args.apartments} flats in {time.perf_counter() - started:.0f} s"
    )
    settings = Settings(db={"url": args.url})
    engine = make_engine(settings)
    ids = list(range(1, args.buildings + 1))
    until = moment(QUARTER.end, settings.timezone)
    admin = Actor(1, "bench-admin", Role.admin, None, None, 0)
    now = datetime.combine(TODAY, datetime.min.time(), UTC)
    times: dict[str, list[float]] = {}
    figures: dict[str, int] = {}

    def baseline() -> None:
        with engine.connect() as conn:
            figures["paid"] = sum(int(v) for _, v in conn.execute(text(BASELINE), {"until": until}))

    def batched() -> None:
        with Session(engine) as session:
            figures["collected"] = sum(collected_by_building(session, ids, until).values())

    def drafts() -> None:
        with Session(engine) as session:
            drafts = report_drafts(session, ids, QUARTER, timezone=settings.timezone)
            figures["income"] = sum(draft.income_minor for draft in drafts.values())

    def publish() -> None:
        with Session(engine) as session:
            reports = publish_reports(
                session, admin, building_ids=ids, quarter=QUARTER, today=TODAY, now=now, settings=settings
            )
            figures["published"] = len(reports)
            session.rollback()

    steps = {
        "baseline: SQL sum of the payments": baseline,
        f"collected_by_building, {args.buildings:,} at once": batched,
        f"report_drafts, {args.buildings:,} at once": drafts,
        f"publish_reports, {args.buildings:,} at once (rolled back)": publish,
    }
    for _ in range(args.runs):
        for label, step in steps.items():
            times.setdefault(label, []).append(timed(step))
    engine.dispose()
    table = Table(
        title=f"{benchkit.machine(server)}; {args.buildings:,} buildings x {args.apartments} flats, {QUARTER}"
    )
    table.add_column("step")
    table.add_column("median s", justify="right")
    table.add_column("x baseline", justify="right")
    base = statistics.median(times["baseline: SQL sum of the payments"])
    for label, measured in times.items():
        median = statistics.median(measured)
        table.add_row(label, f"{median:.3f}", f"{median / base:.0f}" if base else "-")
    console.print(table)
    console.print(
        f"paid before the quarter's end {figures['paid']:,} tiyin; the company's share {figures['collected']:,};"
        f" Q3 income of all reports {figures['income']:,}; {figures['published']:,} reports published"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
