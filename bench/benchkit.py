"""What the PostgreSQL benchmarks share: the path fix, the database they are given, the line saying where they ran.

Run as `python bench/X.py`, a script's folder comes first on the path, so a script imports this
module by name; but bench/billing.py would then shadow the `billing` package. Importing this
module takes the folder off the path again, so a script imports it before housing or billing.
"""

import os
import platform
import sys
from pathlib import Path

import psycopg
from rich.console import Console
from sqlalchemy import make_url

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def postgres_conninfo(url_text: str, console: Console) -> str | None:
    """psycopg's conninfo for a postgresql+psycopg:// URL; for another database, None once said why."""
    url = make_url(url_text)
    if url.get_backend_name() != "postgresql":
        console.print("[red]The benchmark measures PostgreSQL; give a postgresql+psycopg:// URL.[/red]")
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def server_version(conn: psycopg.Connection) -> str:
    return conn.execute("SHOW server_version").fetchone()[0]


def machine(server: str) -> str:
    """The first words of a benchmark's header: the server, the CPUs and Python."""
    return f"PostgreSQL {server}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
