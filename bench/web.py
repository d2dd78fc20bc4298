"""Server time of the busiest pages on a city of 100,000 apartments, next to a one-query endpoint.

    python bench/web.py --url postgresql+psycopg://postgres@127.0.0.1:5432/webbench \\
        --apartments 100000 --clients 8 --requests 400 --workers 2

The first time (or with --reseed) it replaces the database's public schema with a fresh,
migrated one and seeds it through the project's seeders (`seed_city`, the request
categories), then adds in SQL: an issued invoice and its ledger charge for October 2026
for every apartment, and --requests-per-company service requests for every company over
the last 60 days (a fifth still open). Later runs reuse the city when it has the same
number of apartments. It then makes a resident (an owner of a seeded apartment) and a
dispatcher of the company managing it, starts the app with uvicorn as a real server
process (--workers of them), gets each user a bearer token, and measures with --clients
threads at once, each on its own keep-alive connection, --requests requests a page:

- baseline: `GET /healthz`, which runs `SELECT 1` and nothing else;
- the resident's dashboard: `GET /apartments` and `GET /apartments/{id}`;
- the company's request queue: the console page `GET /console/requests` (open requests,
  least time left first, 25 a page) and its JSON list `GET /api/v1/requests?limit=50`, as
  the dispatcher.

Every response carries `Server-Timing: app;dur=<ms>` (housing.app.ServerTiming: from the
request reaching the app to its response headers). It prints p50 and p95 of that server
time and of the latency the client saw, and each page's ratio to the baseline.
"""

import argparse
import http.client
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import date

import benchkit  # bench/benchkit.py, beside this script
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text
from sqlmodel import Session

from housing.accounts.models import Role, User
from housing.accounts.passwords import Passwords
from housing.accounts.service import create_user
from housing.db import make_engine
from housing.registry.models import Apartment
from housing.registry.seeding import seed_city
from housing.requests.seeding import seed_request_categories
from housing.settings import Settings

PERIOD = date(2026, 10, 1)
PASSWORD = "bench-password-" + "x" * 20
RESIDENT, DISPATCHER = "bench-resident", "bench-dispatcher"
OFFICIAL = "bench-official"  # of the officials' pages (bench/meetings.py, bench/building_costs.py)
TIMING = re.compile(r"app;dur=([\d.]+)")
console = Console(width=None if sys.stdout.isatty() else 132)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--apartments", type=int, default=100_000)
    parser.add_argument("--requests-per-company", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (threads)")
    parser.add_argument("--requests", type=int, default=400, help="requests per page, all clients together")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reseed", action="store_true", help="drop the schema and seed again")
    args, conninfo, server = benchkit.parse(parser, console)
    console.print(
        f"{benchkit.machine(server)}, "
        f"{args.apartments:,} apartments, {args.clients} clients, {args.requests} requests a page, "
        f"{args.workers} uvicorn worker(s)"
    )
    prepare(args, conninfo)
    apartment_id = make_users(args.url)

    process = start_server(args)
    try:
        base = f"127.0.0.1:{args.port}"
        resident = token(base, RESIDENT)
        dispatcher = token(base, DISPATCHER)
        pages = [
            ("baseline: GET /healthz (SELECT 1)", "/healthz", None),
            ("resident: GET /apartments", "/apartments", resident),
            (f"resident: GET /apartments/{apartment_id}", f"/apartments/{apartment_id}", resident),
            ("dispatcher: GET /console/requests (the queue page)", "/console/requests", dispatcher),
            ("dispatcher: GET /api/v1/requests?limit=50", "/api/v1/requests?limit=50", dispatcher),
        ]
        results = {label: ([], []) for label, _, _ in pages}
        rounds = 2  # each page measured twice, interleaved, so that noise falls on all of them
        for _ in range(rounds):
            for label, path, bearer in pages:
                server_ms, client_ms = measure(base, path, bearer, args.clients, args.requests // rounds)
                results[label][0].extend(server_ms)
                results[label][1].extend(client_ms)
    finally:
        process.terminate()
        process.wait(timeout=30)
    report(results, args)
    return 0


def prepare(args: argparse.Namespace, conninfo: str) -> None:
    engine = make_engine(Settings(db={"url": args.url}))
    stored = -1
    try:
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(Apartment)).scalar_one()
    except Exception:
        stored = -1
    finally:
        engine.dispose()
    if stored == args.apartments and not args.reseed:
        console.print(f"reusing the seeded city ({stored:,} apartments)")
        return
    started = time.perf_counter()
    benchkit.fresh_schema(conninfo, args.url)
    console.print(
        seed_page_city(args.url, apartments=args.apartments, requests_per_company=args.requests_per_company)
    )
    console.print(f"seeded in {time.perf_counter() - started:.0f} s")


def seed_page_city(url: str, *, apartments: int, requests_per_company: int) -> str:
    """Seeds a migrated PostgreSQL database that holds no rows yet; returns seed_city's summary.

    `seed_city` and the request categories through the project's seeders, then in SQL:
    October's issued invoice and ledger charge for every apartment, and requests_per_company
    service requests for every company; finally VACUUM ANALYZE, so that plans see the sizes.
    The city-scale page test (tests/integration/test_city_scale.py) seeds its city with this.
    """
    conninfo = benchkit.postgres_conninfo(url, console)
    if conninfo is None:
        raise ValueError(f"not a PostgreSQL URL: {url}")
    engine = make_engine(Settings(db={"url": url}))
    try:
        summary = seed_city(engine, apartments=apartments)
        with Session(engine) as session:
            seed_request_categories(session)
            session.commit()
    finally:
        engine.dispose()
    with psycopg.connect(conninfo) as conn:
        seed_invoices(conn)
        seed_requests(conn, requests_per_company)
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return str(summary)


def seed_invoices(conn: psycopg.Connection) -> None:
    """October's issued invoice and its ledger charge for every apartment, set-based."""
    conn.execute(
        """
        INSERT INTO invoice (apartment_id, company_id, period, year, sequence, number, status, issued_at,
            due_date, total_minor, currency, created_at, updated_at)
        SELECT a.id, bm.company_id, %(period)s, 2026,
            row_number() OVER (PARTITION BY bm.company_id ORDER BY a.id),
            'B' || bm.company_id || '-' || row_number() OVER (PARTITION BY bm.company_id ORDER BY a.id),
            'issued', timestamptz '2026-11-01 00:00+05', DATE '2026-11-15',
            30000000 + (a.id %% 50) * 100000, 'UZS', now(), now()
        FROM apartment a
        JOIN building_management bm ON bm.building_id = a.building_id AND bm.valid_until IS NULL
        """,
        {"period": PERIOD},
    )
    conn.execute(
        """
        INSERT INTO ledger_entry (apartment_id, kind, amount_minor, currency, invoice_id, reference,
            occurred_at, created_at)
        SELECT apartment_id, 'charge', total_minor, currency, id, number, issued_at, now() FROM invoice
        """
    )


def seed_requests(conn: psycopg.Connection, per_company: int) -> None:
    """Requests on each company's buildings over the last 60 days; a fifth still open."""
    conn.execute(
        "INSERT INTO user_account (username, password_hash, role, is_active, created_at, updated_at) "
        "VALUES ('bench-filer', 'x', 'admin', true, now(), now())"
    )
    conn.execute(
        """
        INSERT INTO service_request (company_id, building_id, apartment_id, category_id, filed_by_id,
            description, emergency, status, created_at, deadline_at, accepted_at, resolved_at, overdue,
            escalated, reopen_count, updated_at)
        SELECT bm.company_id, bm.building_id, NULL, c.id, u.id, 'Bench request ' || g, c.emergency,
            CASE WHEN r < 0.2 THEN 'accepted' ELSE 'resolved' END,
            t, t + c.deadline_minutes * interval '1 minute', t + interval '3 minutes',
            CASE WHEN r >= 0.2 THEN t + (r * 30) * interval '1 hour' END,
            false, false, 0, t
        FROM (
            SELECT company_id, building_id,
                row_number() OVER (PARTITION BY company_id ORDER BY building_id) AS n,
                count(*) OVER (PARTITION BY company_id) AS buildings
            FROM building_management WHERE valid_until IS NULL
        ) bm
        CROSS JOIN LATERAL generate_series(1, %(per)s) g
        -- bm and g in the subquery make it run for every row (uncorrelated, it would run once)
        CROSS JOIN LATERAL (SELECT bm.building_id + g AS per_row, random() AS r, now() - random() * interval '60 days' AS t) x
        JOIN LATERAL (
            SELECT id, emergency, deadline_minutes FROM request_category
            ORDER BY id OFFSET (g %% (SELECT count(*) FROM request_category)) LIMIT 1
        ) c ON true
        CROSS JOIN (SELECT min(id) AS id FROM user_account) u
        WHERE bm.n = 1 + g %% bm.buildings
        """,
        {"per": per_company},
    )


def make_users(url: str) -> int:
    """The resident (an owner) and a dispatcher of the company managing the resident's building;
    returns the resident's apartment id."""
    settings = Settings(db={"url": url})
    engine = make_engine(settings)
    passwords = Passwords.from_settings(settings)
    with Session(engine) as session:
        apartment_id, person_id, company_id = session.execute(
            text(
                "SELECT o.apartment_id, o.person_id, bm.company_id FROM ownership o "
                "JOIN apartment a ON a.id = o.apartment_id "
                "JOIN building_management bm ON bm.building_id = a.building_id AND bm.valid_until IS NULL "
                "WHERE o.valid_until IS NULL ORDER BY o.apartment_id DESC LIMIT 1"
            )
        ).one()
        for username, role, scope in (
            (RESIDENT, Role.resident, {"person_id": person_id}),
            (DISPATCHER, Role.dispatcher, {"company_id": company_id}),
        ):
            if session.execute(select(User.id).where(User.username == username)).first() is not None:
                continue  # made by an earlier run on this same city, with the same scope
            create_user(
                session, passwords=passwords, username=username, password=PASSWORD, role=role, **scope
            )
        session.commit()
    engine.dispose()
    return apartment_id


def start_server(args: argparse.Namespace) -> subprocess.Popen:
    env = os.environ | {"HOUSING_DB__URL": args.url, "HOUSING_AUTH__SECRET_KEY": secrets.token_hex(32)}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "housing.app:create_app", "--host", "127.0.0.1",
        "--port", str(args.port), "--workers", str(args.workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _, _ = get(
                http.client.HTTPConnection("127.0.0.1", args.port, timeout=5), "/healthz", None
            )
            if status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("the server did not start")


def token(base: str, username: str) -> str:
    connection = http.client.HTTPConnection(base, timeout=30)
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD})
    connection.request(
        "POST", "/api/v1/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    answer = connection.getresponse()
    payload = answer.read()
    if answer.status != 200:
        raise SystemExit(f"log-in of {username} failed: {answer.status} {payload[:200]!r}")
    return json.loads(payload)["access_token"]


def get(connection: http.client.HTTPConnection, path: str, bearer: str | None) -> tuple[int, float, int]:
    headers = {"Accept": "text/html" if not path.startswith("/api") else "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    connection.request("GET", path, headers=headers)
    answer = connection.getresponse()
    body = answer.read()
    found = TIMING.search(answer.headers.get("server-timing", ""))
    return answer.status, float(found.group(1)) if found else float("nan"), len(body)


def measure(
    base: str, path: str, bearer: str | None, clients: int, total: int
) -> tuple[list[float], list[float]]:
    """`total` requests from `clients` threads at once, after a warm-up; server and client ms."""
    server_ms: list[float] = []
    client_ms: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []
    each = max(1, total // clients)

    def client() -> None:
        connection = http.client.HTTPConnection(base, timeout=60)
        mine_server, mine_client = [], []
        for i in range(each + 5):
            started = time.perf_counter()
            status, server, _ = get(connection, path, bearer)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                failures.append(f"{path}: {status}")
                return
            if i >= 5:  # the first few warm the worker's caches and the pool
                mine_server.append(server)
                mine_client.append(elapsed)
        with lock:
            server_ms.extend(mine_server)
            client_ms.extend(mine_client)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"requests failed: {failures[:3]}")
    return server_ms, client_ms


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def report(results: dict[str, tuple[list[float], list[float]]], args: argparse.Namespace) -> None:
    table = Table(title=f"Server time (Server-Timing) and client latency, {args.clients} concurrent clients")
    for name in ("page", "requests", "server p50 ms", "server p95 ms", "client p50 ms", "client p95 ms",
                 "p50 vs baseline", "p95 vs baseline"):  # fmt: skip
        table.add_column(name, justify="left" if name == "page" else "right")
    base_server = results[next(iter(results))][0]
    b50, b95 = percentile(base_server, 50), percentile(base_server, 95)
    slowest = 0.0
    for label, (server, client) in results.items():
        s50, s95 = percentile(server, 50), percentile(server, 95)
        if not label.startswith("baseline"):
            slowest = max(slowest, s50)
        table.add_row(
            label, f"{len(server):,}", f"{s50:.1f}", f"{s95:.1f}",
            f"{percentile(client, 50):.1f}", f"{percentile(client, 95):.1f}",
            f"{s50 / b50:.1f}x", f"{s95 / b95:.1f}x",
        )  # fmt: skip
    console.print(table)
    console.print(
        "Target: the resident dashboard and the company queue under 50 ms server time (p50): "
        + ("[green]met[/green]" if slowest < 50 else "[red]missed[/red]")
    )


if __name__ == "__main__":
    sys.exit(main())


def make_official(engine, settings: Settings) -> None:
    """The official (OFFICIAL, PASSWORD) who asks for the officials' pages, committed."""
    with Session(engine) as session:
        create_user(
            session,
            passwords=Passwords.from_settings(settings),
            username=OFFICIAL,
            password=PASSWORD,
            role=Role.official,
        )
        session.commit()


def page_times(
    args: argparse.Namespace, username: str, pages: list[tuple[str, str, bool]]
) -> dict[str, tuple[list[float], list[float]]]:
    """Serves the app (start_server) and measures each (label, path, signed in) page as `username`.

    Each page gets --requests requests from --clients threads, in two interleaved rounds so that
    noise falls on every page; returns each label's server and client milliseconds.
    """
    process = start_server(args)
    try:
        base = f"127.0.0.1:{args.port}"
        bearer = token(base, username)
        results = {label: ([], []) for label, _, _ in pages}
        for _ in range(2):
            for label, path, signed_in in pages:
                server_ms, client_ms = measure(
                    base, path, bearer if signed_in else None, args.clients, args.requests // 2
                )
                results[label][0].extend(server_ms)
                results[label][1].extend(client_ms)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return results


def report_pages(
    results: dict[str, tuple[list[float], list[float]]],
    console: Console,
    *,
    title: str,
    target: str,
    limit_ms: float,
    counted: Callable[[str], bool],
) -> None:
    """The pages' table (p50 and p95 of server time and client latency), then the line saying
    whether the slowest client p95 of the `counted` pages is under limit_ms: `Target: {target}:`."""
    table = Table(title=title)
    for name in ("page", "requests", "server p50 ms", "server p95 ms", "client p50 ms", "client p95 ms"):
        table.add_column(name, justify="left" if name == "page" else "right")
    slowest = 0.0
    for label, (server, client) in results.items():
        if counted(label):
            slowest = max(slowest, percentile(client, 95))
        table.add_row(
            label,
            f"{len(server):,}",
            f"{percentile(server, 50):.1f}",
            f"{percentile(server, 95):.1f}",
            f"{percentile(client, 50):.1f}",
            f"{percentile(client, 95):.1f}",
        )
    console.print(table)
    console.print(
        f"Target: {target}: {slowest:.0f} ms, "
        + ("[green]met[/green]" if slowest < limit_ms else "[red]missed[/red]")
    )
