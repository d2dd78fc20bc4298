"""The city map's data over 44,000 buildings, next to a bare SQL select of the same points.

    python bench/twin_map.py --url postgresql+psycopg://postgres@127.0.0.1:5432/mapbench \\
        --buildings 44000 --apartments 8 --requests 20

It drops the public schema of the database (refused while its tables hold rows, unless
--reset), migrates it and writes in SQL, before any clock starts (the twin city, `seed_city`
below, which bench/twin_building.py and bench/twin_live.py share): 12 districts, 900
companies, --buildings buildings spread over Tashkent (each managed by one company since
2020), --apartments flats in each, the request categories; then what the map's layers read:

- a stored grade for every building (housing.twin.grading's components, made by its own
  `measure` and thresholds from drawn values; about 7 in 10 green), and a few hundred grade
  changes in the last week;
- service incidents: five closed ones a building over the last 30 days (220,000) and about 4% of the buildings
  with one open now (reported, planned or sensed); cold flats (open heating incidents of an
  indoor sensor) in about 1.5% of the buildings, one to six flats each;
- service requests: five a building over the last 60 days (220,000), one in twelve still
  open, so that about a third of those are past their deadline;
- owners' meetings: one in nine buildings held one in the last year, one in a hundred is voting now.

It then measures, --requests times each, in two interleaved rounds (so that noise falls on
every row), as an official (the city) and as a dispatcher of one company (its ~49 buildings):

1. baseline: `SELECT id, latitude, longitude FROM building` (the company's buildings for the
   dispatcher) through psycopg, the rows fetched;
2. housing.twin.map.map_points for each layer (grade, incidents, overdue, cold, debt,
   meeting, report), in a fresh session each time, as a request has;
3. `GET /api/v1/map/buildings?layer=...` through the app in-process (FastAPI's TestClient,
   bearer token): its server time from `Server-Timing` (request in to response headers:
   scoping, the points, the JSON text of 44,000 points) and the client's time with the body.

It prints p50 and p95 of each and their ratio to the baseline. Target: the route's server
time under 300 ms at p95 for the city. With --grade-job it then times the nightly
`grade-buildings` job over the whole city (on this city's partial data: no meters, invoices
or reports, so its components differ from the drawn ones it replaces).
"""

import argparse
import json
import os
import random
import re
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import benchkit  # bench/benchkit.py, beside this script
import psycopg
import web  # bench/web.py: the log-in and percentile helpers
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text
from sqlmodel import Session

from housing import clock
from housing.accounts.models import Role, User
from housing.accounts.passwords import Passwords
from housing.accounts.service import create_user
from housing.actors import Actor
from housing.app import create_app
from housing.db import make_engine
from housing.requests.seeding import seed_request_categories
from housing.settings import Settings
from housing.twin.grading import (
    COMPONENTS,
    DEBT_SHARE,
    INCIDENT_HOURS,
    METER_COVERAGE,
    OVERDUE_REQUESTS,
    RATING,
    REPORT_ON_TIME,
    building_grade,
    measure,
    rules_from,
)
from housing.twin.jobs import grade_buildings
from housing.twin.map import map_points

PASSWORD = web.PASSWORD
OFFICIAL, DISPATCHER = "twin-official", "twin-dispatcher"
LAYERS = ("grade", "incidents", "overdue", "cold", "debt", "meeting", "report")
TARGET_MS = 300
COUNT = re.compile(rb'"count":(\d+)')
console = Console(width=None if sys.stdout.isatty() else 132)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--buildings", type=int, default=44_000)
    parser.add_argument("--apartments", type=int, default=8, help="flats in each building")
    parser.add_argument("--requests", type=int, default=20, help="timed calls of each row (after a warm-up)")
    parser.add_argument(
        "--grade-job",
        action="store_true",
        help="then time the grade-buildings job over the city (replaces the grades)",
    )
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    if benchkit.refuses_to_drop(conninfo, args.url, args.reset, console):
        return 2
    console.print(
        f"{benchkit.machine(server)}, {args.buildings:,} buildings of {args.apartments} flats, "
        f"{args.requests} calls a row, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load()}"
    )
    started = time.perf_counter()
    benchkit.fresh_schema(conninfo, args.url)
    settings = bench_settings(args.url)
    engine = make_engine(settings)
    try:
        summary = seed_city(conninfo, engine, settings, buildings=args.buildings, apartments=args.apartments)
        console.print(f"seeded {summary} in {time.perf_counter() - started:.0f} s")
        company_id = make_map_users(engine, settings)
        results, sizes = time_rows(args, conninfo, engine, settings, company_id)
        report(results, sizes, args)
        if args.grade_job:
            started = time.perf_counter()
            summary = grade_buildings(engine, settings)
            console.print(f"grade-buildings job: {summary}, in {time.perf_counter() - started:.1f} s")
    finally:
        engine.dispose()
    return 0


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes): the benchmarks share it with others."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_settings(url: str) -> Settings:
    return Settings(db={"url": url}, auth={"secret_key": secrets.token_hex(32)})


# The twin city, in SQL (shared by bench/twin_building.py and bench/twin_live.py)


def seed_city(
    conninfo: str, engine, settings: Settings, *, buildings: int, apartments: int, rng_seed: int = 16
) -> str:
    """Seeds a freshly migrated database (see the module's docstring); returns a summary."""
    with Session(engine) as session:
        seed_request_categories(session)
        session.commit()
    rng = random.Random(rng_seed)
    now = clock.now()
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT setseed(%s)", (rng.random(),))
        benchkit.seed_managed_buildings(conn, buildings)
        conn.execute(
            # Tashkent's extent, roughly; one building in four is a 9-floor block, the rest 4 to 16
            "UPDATE building SET latitude = 41.20 + random() * 0.19, longitude = 69.15 + random() * 0.27, "
            "floors = CASE WHEN id % 4 = 0 THEN 9 ELSE 4 + id % 13 END, year_built = 1960 + id % 60"
        )
        seed_apartments(conn, apartments)
        conn.execute(
            "INSERT INTO user_account (username, password_hash, role, is_active, created_at, updated_at) "
            "VALUES ('twin-filer', 'x', 'admin', true, now(), now())"
        )
        seed_grades(conn, settings, rng, now)
        incidents = seed_incidents(conn, now)
        requests = seed_requests(conn, now)
        meetings = seed_meetings(conn, now)
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return (
        f"{buildings:,} buildings, {buildings * apartments:,} flats, {buildings:,} grades, "
        f"{incidents:,} incidents, {requests:,} requests, {meetings:,} meetings"
    )


def seed_apartments(conn: psycopg.Connection, per_building: int) -> None:
    """`per_building` flats in every building, 4 a floor from the first entrance up."""
    conn.execute(
        """
        INSERT INTO apartment (building_id, number, entrance, floor, area_m2, rooms, registered_residents,
            residential, account_number, created_at, updated_at)
        SELECT b.id, g::text, 1 + (g - 1) / (4 * b.floors), 1 + ((g - 1) / 4) %% b.floors,
            40 + (g * 7 + b.id) %% 60, 1 + g %% 4, 1 + g %% 5, true,
            lpad((b.id::bigint * 10000 + g)::text, 14, '0'), now(), now()
        FROM building b CROSS JOIN generate_series(1, %(n)s) g
        """,
        {"n": per_building},
    )


def seed_grades(conn: psycopg.Connection, settings: Settings, rng: random.Random, now: datetime) -> None:
    """A stored grade for every building, its six components measured by the grade's own rules
    from drawn values; and the week's grade changes of one building in a hundred."""
    rules = rules_from(settings)
    today = clock.local_day(now, settings.timezone)
    ids = [row[0] for row in conn.execute("SELECT id FROM building ORDER BY id")]
    with conn.cursor().copy(
        "COPY building_grade (building_id, grade, components, graded_on, graded_at, since) FROM STDIN"
    ) as copy:
        for building_id in ids:
            components = draw_components(rng, rules)
            grade = building_grade(components)
            since = today - timedelta(days=rng.randint(0, 120))
            copy.write_row((
                building_id, grade.value, json.dumps([c.as_json() for c in components]), today, now, since,
            ))  # fmt: skip
    conn.execute(
        """
        INSERT INTO building_grade_change (building_id, changed_on, previous, grade, created_at)
        SELECT building_id, %(today)s - (building_id %% 7), CASE grade WHEN 'green' THEN 'yellow' ELSE 'green' END,
            grade, now()
        FROM building_grade WHERE building_id %% 100 = 0
        """,
        {"today": today},
    )


def draw_components(rng: random.Random, rules) -> list:
    """The six components of one building, in COMPONENTS order, from plausible drawn values."""
    apartments = rng.randint(20, 200)
    hours = rng.choice([0.0] * 6 + [rng.uniform(0, 8), rng.uniform(0, 40)])
    overdue = rng.choice([0] * 12 + [1, 1, 2, 4])
    rated = rng.randint(0, 12)
    rating = round(rng.uniform(2.5, 5.0), 2) if rated else None
    reporting = rng.randint(int(apartments * 0.4), apartments)
    in_debt = int(apartments * rng.choice([0.02, 0.05, 0.08, 0.12, 0.3]))
    report = rng.choice([1.0] * 17 + [0.5, 0.5, 0.0])
    values = {
        INCIDENT_HOURS: (
            round(hours, 2),
            {"incident_hours": round(hours * apartments, 1), "apartments": apartments},
        ),
        OVERDUE_REQUESTS: (overdue, {"overdue": overdue}),
        RATING: (rating, {"rated": rated}),
        METER_COVERAGE: (
            round(reporting / apartments, 3),
            {"reporting": reporting, "apartments": apartments},
        ),
        DEBT_SHARE: (round(in_debt / apartments, 3), {"in_debt": in_debt, "apartments": apartments}),
        REPORT_ON_TIME: (report, {"quarter": "2026-Q3"}),
    }
    return [measure(name, values[name][0], values[name][1], rules) for name in COMPONENTS]


def seed_incidents(conn: psycopg.Connection, now: datetime) -> int:
    """Closed incidents of the last 30 days, one open now in about 4% of the buildings, and cold
    flats (open heating incidents of indoor sensors) in about 1.5%."""
    conn.execute(
        """
        INSERT INTO service_incident (building_id, apartment_id, utility, source, origin, started_at, ended_at,
            deviation, detail, created_at)
        SELECT 1 + (g * 7919) %% nb.n, NULL, (ARRAY['hot_water', 'heating', 'cold_water', 'electricity', 'lift'])[1 + g %% 5],
            (ARRAY['report', 'planned', 'sensor'])[1 + g %% 3], 'bench-closed-' || g, t, t + (1 + g %% 30) * interval '1 hour',
            NULL, 'closed bench incident', t
        FROM (SELECT count(*) AS n FROM building) nb
        CROSS JOIN LATERAL generate_series(1, 5 * nb.n) g
        CROSS JOIN LATERAL (SELECT %(now)s - interval '30 days' + (g %% 2500) * interval '17 minutes' AS t) x
        """,
        {"now": now},
    )
    conn.execute(
        """
        INSERT INTO service_incident (building_id, apartment_id, utility, source, origin, started_at, ended_at,
            deviation, detail, created_at)
        SELECT id, NULL, (ARRAY['hot_water', 'heating', 'cold_water', 'electricity', 'lift'])[1 + id %% 5],
            (ARRAY['report', 'planned', 'sensor'])[1 + id %% 3], 'bench-open-' || id,
            %(now)s - (1 + id %% 40) * interval '1 hour', NULL, NULL, 'open bench incident', now()
        FROM building WHERE id %% 25 = 3
        """,
        {"now": now},
    )
    conn.execute(
        """
        INSERT INTO service_incident (building_id, apartment_id, utility, source, origin, started_at, ended_at,
            deviation, detail, created_at)
        SELECT a.building_id, a.id, 'heating', 'sensor', 'IT-bench-' || a.id,
            %(now)s - (2 + a.id %% 30) * interval '1 hour', NULL, -(2 + a.id %% 5), 'cold flat', now()
        FROM apartment a
        WHERE a.building_id %% 67 = 5 AND a.number::int <= 1 + a.building_id %% 6
        """,
        {"now": now},
    )
    return conn.execute("SELECT count(*) FROM service_incident").fetchone()[0]


def seed_requests(conn: psycopg.Connection, now: datetime) -> int:
    """Five requests a building over the last 60 days; one in twelve still open."""
    conn.execute(
        """
        INSERT INTO service_request (company_id, building_id, apartment_id, category_id, filed_by_id, description,
            emergency, status, created_at, deadline_at, accepted_at, resolved_at, closed_at, overdue, escalated,
            reopen_count, rating, rated_at, updated_at)
        SELECT bm.company_id, bm.building_id, NULL, c.id, u.id, 'bench request', c.emergency,
            CASE WHEN open THEN (ARRAY['new', 'accepted', 'in_progress'])[1 + g %% 3] ELSE 'closed' END,
            t, t + c.deadline_minutes * interval '1 minute', t + interval '5 minutes',
            CASE WHEN NOT open THEN t + interval '20 hours' END, CASE WHEN NOT open THEN t + interval '2 days' END,
            open AND t + c.deadline_minutes * interval '1 minute' < %(now)s, false, 0,
            CASE WHEN NOT open AND g %% 3 = 0 THEN 1 + (bm.building_id + g) %% 5 END,
            CASE WHEN NOT open AND g %% 3 = 0 THEN t + interval '2 days' END, t
        FROM building_management bm
        CROSS JOIN generate_series(1, 5) g
        CROSS JOIN LATERAL (SELECT (bm.building_id * 5 + g) %% 12 = 0 AS open,
            %(now)s - ((bm.building_id * 13 + g * 211) %% 1440) * interval '1 hour' AS t) x
        JOIN request_category c ON c.id = 1 + (bm.building_id + g) %% (SELECT count(*) FROM request_category)
        CROSS JOIN (SELECT id FROM user_account WHERE username = 'twin-filer') u
        """,
        {"now": now},
    )
    return conn.execute("SELECT count(*) FROM service_request").fetchone()[0]


def seed_meetings(conn: psycopg.Connection, now: datetime) -> int:
    """A closed meeting in the last year in one building in nine; one building in a hundred voting now."""
    conn.execute(
        """
        INSERT INTO meeting (building_id, initiator, created_by, company_id, status, voting_starts, voting_ends,
            published_at, record_date, total_area_m2, ballots, chain_head, closed_at, quorum_reached,
            created_at, updated_at)
        SELECT b.id, 'company', u.id, NULL, s.status, s.starts, s.starts + interval '14 days', s.starts,
            s.starts::date, 5000, 0, repeat('0', 64), CASE WHEN s.status = 'closed' THEN s.starts + interval '14 days' END,
            CASE WHEN s.status = 'closed' THEN true END, s.starts, s.starts
        FROM building b
        CROSS JOIN (SELECT id FROM user_account WHERE username = 'twin-filer') u
        CROSS JOIN LATERAL (
            SELECT CASE WHEN b.id %% 100 = 7 THEN 'published' ELSE 'closed' END AS status,
                CASE WHEN b.id %% 100 = 7 THEN %(now)s - interval '3 days'
                     ELSE %(now)s - interval '20 days' - (b.id %% 330) * interval '1 day' END AS starts
        ) s
        WHERE b.id %% 100 = 7 OR b.id %% 9 = 1 AND b.id <= 45000
        """,
        {"now": now},
    )
    return conn.execute("SELECT count(*) FROM meeting").fetchone()[0]


def make_map_users(engine, settings: Settings) -> int:
    """The official and a dispatcher of the company managing building 1; returns the company's id."""
    passwords = Passwords.from_settings(settings)
    with Session(engine) as session:
        company = session.execute(
            text(
                "SELECT company_id FROM building_management WHERE valid_until IS NULL ORDER BY building_id LIMIT 1"
            )
        ).scalar_one()
        for username, role, company_id in (
            (OFFICIAL, Role.official, None),
            (DISPATCHER, Role.dispatcher, company),
        ):
            if session.execute(select(User.id).where(User.username == username)).first() is None:
                create_user(
                    session, passwords=passwords, username=username, password=PASSWORD, role=role,
                    company_id=company_id,
                )  # fmt: skip
        session.commit()
    return company


def actor_of(engine, username: str) -> Actor:
    with Session(engine) as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        return Actor.of(user)


def bearer_client(app, username: str) -> TestClient:
    """A TestClient on the app, logged in as `username` with a bearer token."""
    client = TestClient(app)
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    if answer.status_code != 200:
        raise SystemExit(f"log-in of {username} failed: {answer.status_code} {answer.text[:200]}")
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return client


# The measurement


Call = Callable[[], tuple[float | None, int, int]]  # one call: (its server ms or None, points, bytes)


def time_rows(
    args: argparse.Namespace, conninfo: str, engine, settings: Settings, company_id: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, tuple[int, int]]]:
    app = create_app(settings, engine)
    official, dispatcher = actor_of(engine, OFFICIAL), actor_of(engine, DISPATCHER)
    clients = {OFFICIAL: bearer_client(app, OFFICIAL), DISPATCHER: bearer_client(app, DISPATCHER)}
    rows: dict[str, Call] = {}

    with psycopg.connect(conninfo, autocommit=True) as conn:

        def bare(where: str) -> Call:
            statement = "SELECT id, latitude, longitude FROM building" + where

            def call() -> tuple[float | None, int, int]:
                return None, len(conn.execute(statement, {"company": company_id}).fetchall()), 0

            return call

        def direct(actor: Actor, layer: str) -> Call:
            def call() -> tuple[float | None, int, int]:
                now = clock.now()
                with Session(engine) as session:
                    found = map_points(
                        session, actor, clock.local_day(now, settings.timezone), now, layer=layer
                    )
                return None, len(found.points), 0

            return call

        def route(username: str, query: str) -> Call:
            client = clients[username]

            def call() -> tuple[float | None, int, int]:
                answer = client.get(f"/api/v1/map/buildings?{query}")
                if answer.status_code != 200:
                    raise SystemExit(
                        f"GET /api/v1/map/buildings?{query}: {answer.status_code} {answer.text[:300]}"
                    )
                server = float(web.TIMING.search(answer.headers["server-timing"]).group(1))
                count = COUNT.search(
                    answer.content
                )  # not the whole 4 MB parsed: the client's time is not ours
                return server, int(count.group(1)) if count else -1, len(answer.content)

            return call

        staff_where = (
            " WHERE id IN (SELECT building_id FROM building_management"
            " WHERE company_id = %(company)s AND valid_until IS NULL)"
        )
        rows["baseline: SQL SELECT id, latitude, longitude FROM building (city)"] = bare("")
        rows["baseline: the same, one company's buildings"] = bare(staff_where)
        for layer in LAYERS:
            rows[f"map_points, official, layer={layer}"] = direct(official, layer)
        rows["map_points, dispatcher, layer=grade"] = direct(dispatcher, "grade")
        for layer in LAYERS:
            rows[f"official: GET /api/v1/map/buildings?layer={layer}"] = route(OFFICIAL, f"layer={layer}")
        rows["official: GET /api/v1/map/buildings?layer=grade&district_id=3"] = route(
            OFFICIAL, "layer=grade&district_id=3"
        )
        rows["dispatcher: GET /api/v1/map/buildings?layer=grade"] = route(DISPATCHER, "layer=grade")
        rows["dispatcher: GET /api/v1/map/buildings?layer=overdue"] = route(DISPATCHER, "layer=overdue")

        results, sizes = run_rows(rows, args.requests)
    for client in clients.values():
        client.close()
    return results, sizes


def run_rows(
    rows: dict[str, Call], requests: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, tuple[int, int]]]:
    """Each row called once to warm up (plans, pools, the app's first request), then `requests`
    times in two interleaved rounds so that noise falls on every row; each label's server ms (the
    call's own when it has none) and whole-call ms, and its last (points, bytes)."""
    results: dict[str, dict[str, list[float]]] = {label: {"server": [], "total": []} for label in rows}
    sizes: dict[str, tuple[int, int]] = {}
    for call in rows.values():
        call()
    for _ in range(2):
        for label, call in rows.items():
            for _ in range(max(1, requests // 2)):
                started = time.perf_counter()
                server, points, size = call()
                elapsed = (time.perf_counter() - started) * 1000
                results[label]["total"].append(elapsed)
                results[label]["server"].append(server if server is not None else elapsed)
                sizes[label] = (points, size)
    return results, sizes


def verdict(target: str, slowest: float, limit_ms: float) -> None:
    """The lines under a table of rows measured in process: what the times are, and the target."""
    console.print(
        "Rows 'GET': server time from Server-Timing (request in to response headers), in process; "
        "'with body': the TestClient's whole call. Other rows: the call's wall time."
    )
    console.print(
        f"Target: {target}: {slowest:.0f} ms, "
        + ("[green]met[/green]" if slowest < limit_ms else "[red]missed[/red]")
    )
    console.print(f"load average at the end: {load()}")


def p(values: list[float], q: int) -> float:
    return web.percentile(values, q) if len(values) > 1 else values[0]


def report(results: dict[str, dict[str, list[float]]], sizes: dict[str, tuple[int, int]], args) -> None:
    table = Table(title=f"The city map's data over {args.buildings:,} buildings, {args.requests} calls a row")
    for name in ("what", "points", "bytes", "p50 ms", "p95 ms", "p95 vs baseline", "with body p95 ms"):
        table.add_column(name, justify="left" if name == "what" else "right", no_wrap=name == "what")
    labels = list(results)
    city_base = p(results[labels[0]]["server"], 95)
    company_base = p(results[labels[1]]["server"], 95)
    slowest = 0.0
    for label, times in results.items():
        points, size = sizes[label]
        base = company_base if "dispatcher" in label or "company" in label else city_base
        s95 = p(times["server"], 95)
        if label.startswith("official: GET"):
            slowest = max(slowest, s95)
        table.add_row(
            label,
            f"{points:,}",
            f"{size:,}" if size else "",
            f"{p(times['server'], 50):.1f}",
            f"{s95:.1f}",
            f"{s95 / base:.1f}x",
            f"{p(times['total'], 95):.1f}" if label.startswith(("official: GET", "dispatcher: GET")) else "",
        )
    console.print(table)
    verdict(f"the city's map data under {TARGET_MS} ms at p95 server time (every layer)", slowest, TARGET_MS)


if __name__ == "__main__":
    sys.exit(main())
