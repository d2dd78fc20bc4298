"""How fast `housing seed` fills PostgreSQL, next to what the machine can do at all.

    python bench/seed.py --url postgresql+psycopg://postgres@127.0.0.1:5432/seedbench \\
        --apartments 100000 --runs 3

Every run starts from a fresh schema: the script drops the public schema and migrates
it again, so it refuses a database whose tables hold any rows unless --reset is
given. Each run then times, in this order:

1. baseline, COPY: as many bare apartment-shaped rows as --apartments into a scratch
   table through psycopg's COPY, the fastest way into PostgreSQL;
2. baseline, executemany: the same rows through psycopg's pipelined executemany,
   committed every 5,000 rows like the seeder;
3. seed_city: the whole city (districts, companies, buildings, management periods,
   apartments, people, ownership shares, residences) through our code, row
   generation included.

It prints the median of the runs, rows per second, and each step's speed relative to
both baselines. The seeded city is left in the database; the scratch table is dropped.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import benchkit  # bench/benchkit.py, beside this script
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, make_url
from sqlmodel import Session, select

from housing.db import make_engine
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    District,
    ManagementCompany,
    Ownership,
    Person,
    Residence,
)
from housing.registry.seeding import seed_city
from housing.settings import Settings

SCRATCH = "bench_scratch"
CHUNK = 5000
SEEDED = (District, ManagementCompany, Building, BuildingManagement, Apartment, Person, Ownership, Residence)

console = Console()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--apartments", type=int, default=100_000, help="apartments to seed (default 100000)")
    parser.add_argument("--runs", type=int, default=1, help="runs to take the median of (default 1)")
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    with psycopg.connect(conninfo) as conn:
        occupied = tables_with_rows(conn)
    if occupied and not args.reset:
        console.print(
            f"[red]{make_url(args.url).database} holds data ({', '.join(occupied)}); this benchmark drops the "
            "public schema. Use a scratch database, or pass --reset to drop it anyway.[/red]"
        )
        return 2

    console.print(f"{benchkit.machine(server)}, {args.apartments:,} apartments, {args.runs} run(s)")
    bare = bare_rows(args.apartments)
    timings: dict[str, list[float]] = {"copy": [], "executemany": [], "seed": []}
    seeded_rows = 0
    for run in range(1, args.runs + 1):
        benchkit.fresh_schema(conninfo, args.url)
        with psycopg.connect(conninfo) as conn:
            timings["copy"].append(baseline_copy(conn, bare))
            timings["executemany"].append(baseline_executemany(conn, bare))
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(SCRATCH)))
        seconds, seeded_rows = timed_seed(args.url, args.apartments)
        timings["seed"].append(seconds)
        console.print(
            f"run {run}: COPY {timings['copy'][-1]:.2f} s, executemany {timings['executemany'][-1]:.2f} s, "
            f"seed_city {seconds:.2f} s"
        )

    report(args.apartments, seeded_rows, {k: statistics.median(v) for k, v in timings.items()}, args.runs)
    return 0


def tables_with_rows(conn: psycopg.Connection) -> list[str]:
    tables = [
        row[0]
        for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    ]
    return [
        table
        for table in tables
        if table != "alembic_version"
        and conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
        ).fetchone()[0]
    ]


def bare_rows(n: int) -> list[tuple]:
    """Apartment-shaped rows, made before the clock starts: the baseline times the database only."""
    now = datetime.now(UTC)
    return [
        (1 + i // 70, str(i % 70 + 1), Decimal("54.30"), 2, str(2_000_000_000 + i), now) for i in range(n)
    ]


def _scratch_table(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCRATCH)))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (id bigserial PRIMARY KEY, building_id integer NOT NULL, "
            "number varchar(20) NOT NULL, area_m2 numeric(8, 2) NOT NULL, rooms integer, "
            "account_number varchar(20) NOT NULL, created_at timestamptz NOT NULL)"
        ).format(sql.Identifier(SCRATCH))
    )
    conn.commit()


COLUMNS = sql.SQL("building_id, number, area_m2, rooms, account_number, created_at")


def baseline_copy(conn: psycopg.Connection, rows: list[tuple]) -> float:
    _scratch_table(conn)
    started = time.perf_counter()
    with (
        conn.cursor() as cursor,
        cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(SCRATCH), COLUMNS)) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    conn.commit()
    return time.perf_counter() - started


def baseline_executemany(conn: psycopg.Connection, rows: list[tuple]) -> float:
    _scratch_table(conn)
    statement = sql.SQL("INSERT INTO {} ({}) VALUES (%s, %s, %s, %s, %s, %s)").format(
        sql.Identifier(SCRATCH), COLUMNS
    )
    started = time.perf_counter()
    with conn.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(statement, rows[start : start + CHUNK])
            conn.commit()
    return time.perf_counter() - started


def timed_seed(url: str, apartments: int) -> tuple[float, int]:
    """Seconds seed_city took, and how many rows it wrote into the fresh schema."""
    engine = make_engine(Settings(db={"url": url}))
    try:
        started = time.perf_counter()
        seed_city(engine, apartments=apartments)
        seconds = time.perf_counter() - started
        with Session(engine) as session:
            rows = sum(session.exec(select(func.count()).select_from(model)).one() for model in SEEDED)
    finally:
        engine.dispose()
    return seconds, rows


def report(apartments: int, seeded_rows: int, median: dict[str, float], runs: int) -> None:
    copy_speed = apartments / median["copy"]
    executemany_speed = apartments / median["executemany"]
    table = Table(title=f"Seeding {apartments:,} apartments, median of {runs} run(s)")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("vs COPY", justify="right")
    table.add_column("vs executemany", justify="right")
    for label, key, rows in (
        ("baseline: COPY, bare rows", "copy", apartments),
        ("baseline: executemany, bare rows", "executemany", apartments),
        ("seed_city (all tables)", "seed", seeded_rows),
    ):
        speed = rows / median[key]
        table.add_row(
            label,
            f"{rows:,}",
            f"{median[key]:.2f}",
            f"{speed:,.0f}",
            f"{speed / copy_speed:.2f}x",
            f"{speed / executemany_speed:.2f}x",
        )
    console.print(table)
    console.print(
        f"seed_city: {apartments / median['seed']:,.0f} apartments/s, "
        f"{seeded_rows / apartments:.1f} rows per apartment"
    )


if __name__ == "__main__":
    sys.exit(main())
