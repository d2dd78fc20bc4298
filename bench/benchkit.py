"""What the PostgreSQL benchmarks share: the database they are given, the line saying where they ran.

Run as `python bench/X.py`, a script's folder comes first on the path, so a script imports this
module by name. For the same reason no script here may be named like a package it imports
(`billing`, `housing`, `sensors`, or a library's): tests/unit/test_bench_names.py checks it.
"""

import argparse
import os
import platform

import psycopg
from rich.console import Console
from sqlalchemy import make_url

from housing import migrate


def postgres_conninfo(url_text: str, console: Console) -> str | None:
    """psycopg's conninfo for a postgresql+psycopg:// URL; for another database, None once said why."""
    url = make_url(url_text)
    if url.get_backend_name() != "postgresql":
        console.print("[red]The benchmark measures PostgreSQL; give a postgresql+psycopg:// URL.[/red]")
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def parse(parser: argparse.ArgumentParser, console: Console) -> tuple[argparse.Namespace, str, str]:
    """The script's arguments, psycopg's conninfo of its --url and the server's version.

    Exits with status 2, once said why, when --url is not a PostgreSQL database.
    """
    args = parser.parse_args()
    conninfo = postgres_conninfo(args.url, console)
    if conninfo is None:
        parser.exit(2)
    with psycopg.connect(conninfo) as conn:
        return args, conninfo, server_version(conn)


def fresh_schema(conninfo: str, url: str) -> None:
    """Drops the public schema and migrates an empty one (the benchmarks' databases are scratch ones)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    migrate.upgrade(url)


def server_version(conn: psycopg.Connection) -> str:
    return conn.execute("SHOW server_version").fetchone()[0]


def machine(server: str) -> str:
    """The first words of a benchmark's header: the server, the CPUs and Python."""
    return f"PostgreSQL {server}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def refuses_to_drop(conninfo: str, url: str, reset: bool, console: Console) -> bool:
    """True, once said why, when the database's public schema holds tables and --reset was not given.

    The scripts that drop the public schema ask this first: a database in use is not dropped by mistake.
    """
    with psycopg.connect(conninfo) as conn:
        occupied = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchone()[0]
    if occupied and not reset:
        console.print(
            f"[red]{make_url(url).database} has tables; this benchmark drops the public schema."
            " Pass --reset.[/red]"
        )
        return True
    return False


def seed_managed_buildings(conn: psycopg.Connection, buildings: int) -> None:
    """12 districts, 900 companies and `buildings` buildings, building g managed by company g % 900 + 1
    since 2020 (the city of the officials' benchmarks), in SQL."""
    conn.execute(
        "INSERT INTO district (name, city, created_at, updated_at) "
        "SELECT 'District ' || g, 'Tashkent', now(), now() FROM generate_series(1, 12) g"
    )
    conn.execute(
        "INSERT INTO management_company (name, tax_id, district_id, created_at, updated_at) "
        "SELECT 'Company ' || g, (300000000 + g)::text, 1 + g % 12, now(), now() FROM generate_series(1, 900) g"
    )
    conn.execute(
        """
        INSERT INTO building (address, district_id, latitude, longitude, floors, created_at, updated_at)
        SELECT 'Bench street ' || g, 1 + (g %% 900 + 1) %% 12, 41.3, 69.28, 9, now(), now()
        FROM generate_series(1, %(n)s) g
        """,
        {"n": buildings},
    )
    conn.execute(
        "INSERT INTO building_management (building_id, company_id, valid_from, created_at) "
        "SELECT id, id % 900 + 1, DATE '2020-01-01', now() FROM building"
    )
