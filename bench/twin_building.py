"""The building view of a 500-apartment building, as staff and as a resident, next to a bare SQL select.

    python bench/twin_building.py --url postgresql+psycopg://postgres@127.0.0.1:5432/buildingbench \\
        --apartments 500 --city-buildings 1000 --requests 60

It drops the public schema of the database (refused while its tables hold rows, unless
--reset), migrates it and writes, before any clock starts: bench/twin_map.py's twin city of
--city-buildings buildings of 8 flats (grades, incidents, requests, meetings), then one
building of --apartments flats (16 floors, 4 flats a floor an entrance) managed by the company
of building 1, and, through the project's seeder (`seed_meters`), every apartment's four
meters (85% smart), each building's heat meter and hot-water sensor and an indoor sensor in
one flat in twenty; then in SQL:

- 24 hours of measurements every 15 minutes for every sensor of the city;
- the big building's smart meters' readings: daily for 30 days and every 15 minutes over
  the last 24 hours (its heat meter's too);
- open meter alerts in the big building: leaks on 5 flats, backwards readings on 2, silent
  meters on 15, a backwards heat meter;
- its incidents: lukewarm hot water sensed 3 hours ago, a planned cold-water outage under
  way, a planned electricity outage tomorrow, 8 cold flats, 20 closed ones this month;
- its requests: 30 open (10 on the common parts, a third past their deadline), 400 closed;
- the last three months' invoices of every apartment of the city, with their ledger charges
  and payments; one in nine is unpaid, past its due date;
- a resident owning flat 1 of the big building, with an account.

It then measures, --requests times each, in two interleaved rounds:

1. baseline: `SELECT id, number, entrance, floor FROM apartment WHERE building_id = ...`
   (the building's apartments) through psycopg, the rows fetched;
2. housing.twin.building.building_state for staff (everything) and for the resident (the
   common view), in a fresh session each time;
3. `GET /buildings/{id}` (the page) and `GET /api/v1/buildings/{id}/state` (its JSON) as the
   company's dispatcher and as the resident, through the app in-process (FastAPI's
   TestClient, bearer token): server time from `Server-Timing` and the client's time.

It prints p50 and p95 of each and their ratio to the baseline. Target: the view (page and
JSON) under 100 ms at p95 server time.
"""

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import benchkit  # bench/benchkit.py, beside this script
import psycopg
import twin_map  # bench/twin_map.py: the twin city, users, the in-process client
import web  # bench/web.py: the percentile helper
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlmodel import Session

from housing import clock
from housing.accounts.models import Role
from housing.accounts.passwords import Passwords
from housing.accounts.service import create_user
from housing.app import create_app
from housing.db import make_engine
from housing.registry.models import Building
from housing.settings import Settings
from housing.twin.building import building_state, viewer_of
from housing.twin.grading import building_grade, rules_from
from sensors.seeding import seed_meters

RESIDENT = "twin-resident"
FLOORS, PER_FLOOR = 16, 4
TARGET_MS = 100
console = Console(width=None if sys.stdout.isatty() else 132)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--apartments", type=int, default=500, help="flats of the building viewed")
    parser.add_argument("--city-buildings", type=int, default=1000, help="other buildings (8 flats each)")
    parser.add_argument("--requests", type=int, default=60, help="timed calls of each row (after a warm-up)")
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    if benchkit.refuses_to_drop(conninfo, args.url, args.reset, console):
        return 2
    console.print(
        f"{benchkit.machine(server)}, a building of {args.apartments:,} flats in a city of "
        f"{args.city_buildings:,} more, {args.requests} calls a row, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"load average {twin_map.load()}"
    )
    started = time.perf_counter()
    benchkit.fresh_schema(conninfo, args.url)
    settings = twin_map.bench_settings(args.url)
    engine = make_engine(settings)
    try:
        twin_map.seed_city(conninfo, engine, settings, buildings=args.city_buildings, apartments=8)
        company_id = twin_map.make_map_users(engine, settings)
        building_id = seed_building(
            conninfo, engine, settings, apartments=args.apartments, company_id=company_id
        )
        console.print(f"seeded in {time.perf_counter() - started:.0f} s; the building viewed: {building_id}")
        results = time_rows(args, conninfo, engine, settings, building_id)
    finally:
        engine.dispose()
    report(results, args)
    return 0


def seed_building(conninfo: str, engine, settings: Settings, *, apartments: int, company_id: int) -> int:
    """The big building and everything its view shows (see the module's docstring); its id.

    Also gives every building of the city its meters and sensors and 24 hours of
    measurements, and every apartment its last three months' invoices."""
    now = clock.now()
    today = clock.local_day(now, settings.timezone)
    with psycopg.connect(conninfo) as conn:
        building_id = add_building(conn, settings, apartments=apartments, company_id=company_id, now=now)
        add_resident(conn, building_id, today)
        conn.commit()
    seed_meters(engine, today=today)
    with psycopg.connect(conninfo) as conn:
        seed_measurements(conn, now)
        seed_readings(conn, building_id, now)
        seed_alerts(conn, building_id, now)
        seed_building_incidents(conn, building_id, now)
        seed_building_requests(conn, building_id, now)
        seed_invoices(conn, now)
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    make_resident_user(engine, settings)
    return building_id


def add_building(
    conn: psycopg.Connection, settings: Settings, *, apartments: int, company_id: int, now
) -> int:
    building_id = conn.execute(
        "INSERT INTO building (address, district_id, latitude, longitude, floors, year_built, total_area_m2,"
        " created_at, updated_at) VALUES ('Twin bench tower, 1', 1, 41.311, 69.279, %s, 1986, %s, now(), now())"
        " RETURNING id",
        (FLOORS, Decimal(apartments * 55)),
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO building_management (building_id, company_id, valid_from, created_at)"
        " VALUES (%s, %s, DATE '2020-01-01', now())",
        (building_id, company_id),
    )
    per_entrance = FLOORS * PER_FLOOR
    conn.execute(
        """
        INSERT INTO apartment (building_id, number, entrance, floor, area_m2, rooms, registered_residents,
            residential, account_number, created_at, updated_at)
        SELECT %(b)s, g::text, 1 + (g - 1) / %(pe)s, 1 + ((g - 1) %% %(pe)s) / %(pf)s, 38 + (g * 7) %% 70,
            1 + g %% 4, 1 + g %% 5, true, 'TW' || lpad(g::text, 8, '0'), now(), now()
        FROM generate_series(1, %(n)s) g
        """,
        {"b": building_id, "pe": per_entrance, "pf": PER_FLOOR, "n": apartments},
    )
    rules = rules_from(settings)
    components = twin_map.draw_components(random.Random(building_id), rules)
    conn.execute(
        "INSERT INTO building_grade (building_id, grade, components, graded_on, graded_at, since)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            building_id,
            building_grade(components).value,
            psycopg.types.json.Json([c.as_json() for c in components]),
            clock.local_day(now, settings.timezone),
            now,
            clock.local_day(now, settings.timezone),
        ),
    )
    return building_id


def add_resident(conn: psycopg.Connection, building_id: int, today) -> None:
    person_id = conn.execute(
        "INSERT INTO person (full_name, kind, created_at, updated_at) VALUES ('Twin Resident', 'individual',"
        " now(), now()) RETURNING id"
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO ownership (apartment_id, person_id, share_numerator, share_denominator, valid_from, created_at)"
        " SELECT id, %s, 1, 1, DATE '2015-01-01', now() FROM apartment WHERE building_id = %s AND number = '1'",
        (person_id, building_id),
    )


def make_resident_user(engine, settings: Settings) -> None:
    with Session(engine) as session:
        person_id = session.execute(
            text("SELECT id FROM person WHERE full_name = 'Twin Resident'")
        ).scalar_one()
        create_user(
            session,
            passwords=Passwords.from_settings(settings),
            username=RESIDENT,
            password=twin_map.PASSWORD,
            role=Role.resident,
            person_id=person_id,
        )
        session.commit()


def seed_measurements(conn: psycopg.Connection, now: datetime) -> None:
    """24 hours of measurements every 15 minutes for every sensor of the city."""
    conn.execute(
        """
        INSERT INTO measurement (sensor_id, taken_at, value, received_at)
        SELECT s.id, t,
            CASE WHEN s.kind = 'hot_water_temperature' THEN 52 + (s.id * 7 + i) %% 9
                 ELSE 17 + ((s.id * 3 + i) %% 60) / 10.0 END,
            t + interval '4 seconds'
        FROM sensor s
        CROSS JOIN generate_series(0, 95) i
        CROSS JOIN LATERAL (SELECT date_trunc('hour', %(now)s::timestamptz) - interval '23 hours'
            + i * interval '15 minutes' AS t) x
        WHERE t <= %(now)s
        """,
        {"now": now},
    )


def seed_readings(conn: psycopg.Connection, building_id: int, now: datetime) -> None:
    """The big building's smart meters: daily for 30 days, every 15 minutes over the last day."""
    conn.execute(
        """
        INSERT INTO reading (meter_id, taken_at, value, source, seq, received_at)
        SELECT m.id, t, m.initial_value + 100 + n * 0.05 + (m.id %% 7) * 0.001, 'mqtt', n, t + interval '4 seconds'
        FROM meter m
        CROSS JOIN LATERAL (
            SELECT d AS n, date_trunc('day', %(now)s::timestamptz) - (30 - d) * interval '1 day' AS t
            FROM generate_series(0, 29) d
            UNION ALL
            SELECT 100 + q, date_trunc('hour', %(now)s::timestamptz) - interval '23 hours' + q * interval '15 minutes'
            FROM generate_series(0, 95) q
        ) s
        WHERE m.building_id = %(b)s AND m.smart AND t <= %(now)s
        ON CONFLICT DO NOTHING
        """,
        {"now": now, "b": building_id},
    )


def seed_alerts(conn: psycopg.Connection, building_id: int, now: datetime) -> None:
    """Leaks on 5 flats, backwards readings on 2, silent meters on 15; the heat meter backwards."""
    for kind, count, meter_kind in (
        ("leak", 5, "cold_water"),
        ("backwards", 2, "electricity"),
        ("stale", 15, "gas"),
    ):
        conn.execute(
            """
            INSERT INTO alert (meter_id, kind, opened_at, detail)
            SELECT m.id, %(kind)s, %(now)s - interval '5 hours', 'bench alert'
            FROM meter m JOIN apartment a ON a.id = m.apartment_id
            WHERE m.building_id = %(b)s AND m.kind = %(mk)s
            ORDER BY (a.number::int * 37) %% 500 LIMIT %(n)s
            """,
            {"kind": kind, "now": now, "b": building_id, "mk": meter_kind, "n": count},
        )
    conn.execute(
        "INSERT INTO alert (meter_id, kind, opened_at, detail) SELECT id, 'backwards', %s, 'bench alert'"
        " FROM meter WHERE building_id = %s AND kind = 'heat' AND apartment_id IS NULL",
        (now, building_id),
    )


def seed_building_incidents(conn: psycopg.Connection, building_id: int, now: datetime) -> None:
    hour = timedelta(hours=1)
    rows = [
        ("hot_water", "sensor", "HWT-bench", now - 3 * hour, None, "lukewarm hot water"),
        ("cold_water", "planned", "planned-1", now - hour, now + 5 * hour, "pipe replacement"),
        ("electricity", "planned", "planned-2", now + 20 * hour, now + 26 * hour, "substation works"),
    ]
    for utility, source, origin, start, end, detail in rows:
        conn.execute(
            "INSERT INTO service_incident (building_id, utility, source, origin, started_at, ended_at, detail,"
            " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now())",
            (building_id, utility, source, origin, start, end, detail),
        )
    conn.execute(
        """
        INSERT INTO service_incident (building_id, apartment_id, utility, source, origin, started_at, ended_at,
            deviation, detail, created_at)
        SELECT %(b)s, id, 'heating', 'sensor', 'IT-big-' || id, %(now)s - interval '6 hours', NULL, -3, 'cold flat', now()
        FROM apartment WHERE building_id = %(b)s AND number::int %% 61 = 7
        """,
        {"b": building_id, "now": now},
    )
    conn.execute(
        """
        INSERT INTO service_incident (building_id, utility, source, origin, started_at, ended_at, detail, created_at)
        SELECT %(b)s, (ARRAY['hot_water', 'heating', 'cold_water', 'lift'])[1 + g %% 4], 'report', 'closed-' || g,
            %(now)s - g * interval '1 day', %(now)s - g * interval '1 day' + interval '3 hours', 'closed', now()
        FROM generate_series(1, 20) g
        """,
        {"b": building_id, "now": now},
    )


def seed_building_requests(conn: psycopg.Connection, building_id: int, now: datetime) -> None:
    """30 open requests (10 on the common parts, a third past their deadline) and 400 closed."""
    conn.execute(
        """
        INSERT INTO service_request (company_id, building_id, apartment_id, category_id, filed_by_id, description,
            emergency, status, created_at, deadline_at, accepted_at, resolved_at, closed_at, overdue, escalated,
            reopen_count, updated_at)
        SELECT bm.company_id, %(b)s, CASE WHEN g %% 3 = 0 THEN NULL ELSE a.id END, c.id, u.id, 'bench request',
            c.emergency, CASE WHEN g <= 30 THEN (ARRAY['new', 'accepted', 'in_progress'])[1 + g %% 3] ELSE 'closed' END,
            t, t + c.deadline_minutes * interval '1 minute', t + interval '5 minutes',
            CASE WHEN g > 30 THEN t + interval '20 hours' END, CASE WHEN g > 30 THEN t + interval '2 days' END,
            false, false, 0, t
        FROM generate_series(1, 430) g
        JOIN building_management bm ON bm.building_id = %(b)s AND bm.valid_until IS NULL
        JOIN apartment a ON a.building_id = %(b)s AND a.number = (1 + (g * 17) %% 500)::text
        JOIN request_category c ON c.id = 1 + g %% (SELECT count(*) FROM request_category)
        CROSS JOIN (SELECT id FROM user_account WHERE username = 'twin-filer') u
        CROSS JOIN LATERAL (SELECT CASE WHEN g <= 30 AND g %% 3 = 1 THEN %(now)s - interval '9 days'
            WHEN g <= 30 THEN %(now)s - interval '10 minutes' ELSE %(now)s - (g %% 60) * interval '1 day' END AS t) x
        """,
        {"b": building_id, "now": now},
    )


def seed_invoices(conn: psycopg.Connection, now: datetime) -> None:
    """The last three months' invoices of every apartment (one in nine unpaid, past due), their
    ledger charges and the payments of the paid ones."""
    conn.execute(
        """
        INSERT INTO invoice (apartment_id, company_id, period, year, sequence, number, status, issued_at,
            due_date, total_minor, currency, created_at, updated_at)
        SELECT a.id, bm.company_id, p.period, extract(year FROM p.period)::int,
            row_number() OVER (PARTITION BY bm.company_id, extract(year FROM p.period) ORDER BY p.period, a.id),
            'T' || to_char(p.period, 'YYMM') || '-' || a.id,
            CASE WHEN (a.id * 7 + extract(month FROM p.period)::int) %% 9 = 0 THEN 'issued' ELSE 'paid' END,
            p.period + interval '1 month', (p.period + interval '1 month 14 days')::date,
            25000000 + (a.id %% 40) * 100000, 'UZS', now(), now()
        FROM apartment a
        JOIN building_management bm ON bm.building_id = a.building_id AND bm.valid_until IS NULL
        CROSS JOIN LATERAL (SELECT (date_trunc('month', %(now)s::timestamptz) - k * interval '1 month')::date AS period
            FROM generate_series(2, 4) k) p
        """,
        {"now": now},
    )
    conn.execute(
        "INSERT INTO ledger_entry (apartment_id, kind, amount_minor, currency, invoice_id, reference, occurred_at,"
        " created_at) SELECT apartment_id, 'charge', total_minor, currency, id, number, issued_at, now() FROM invoice"
    )
    conn.execute(
        "INSERT INTO ledger_entry (apartment_id, kind, amount_minor, currency, invoice_id, reference, occurred_at,"
        " created_at) SELECT apartment_id, 'payment', -total_minor, currency, id, 'paid ' || number,"
        " issued_at + interval '10 days', now() FROM invoice WHERE status = 'paid'"
    )


def time_rows(
    args, conninfo: str, engine, settings: Settings, building_id: int
) -> dict[str, dict[str, list[float]]]:

    app = create_app(settings, engine)
    clients = {
        "dispatcher": twin_map.bearer_client(app, twin_map.DISPATCHER),
        "resident": twin_map.bearer_client(app, RESIDENT),
    }
    actors = {
        "dispatcher": twin_map.actor_of(engine, twin_map.DISPATCHER),
        "resident": twin_map.actor_of(engine, RESIDENT),
    }
    rows = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:

        def bare():
            statement = "SELECT id, number, entrance, floor FROM apartment WHERE building_id = %s"
            found = len(conn.execute(statement, (building_id,)).fetchall())
            assert found == args.apartments
            return None, found, 0

        def direct(who: str):
            def call():
                now = clock.now()
                with Session(engine) as session:
                    building = session.get(Building, building_id)
                    viewer = viewer_of(
                        session, actors[who], building_id, clock.local_day(now, settings.timezone)
                    )
                    state = building_state(session, building, viewer, settings, now)
                assert state.grid.apartments == args.apartments
                return None, state.grid.apartments, 0

            return call

        def route(who: str, path: str):
            client = clients[who]

            def call():
                answer = client.get(path)
                if answer.status_code != 200:
                    raise SystemExit(f"{who}: GET {path}: {answer.status_code} {answer.text[:300]}")
                server = float(web.TIMING.search(answer.headers["server-timing"]).group(1))
                return server, args.apartments, len(answer.content)

            return call

        rows[f"baseline: SQL SELECT the building's {args.apartments} apartments"] = bare
        rows["building_state, staff (everything)"] = direct("dispatcher")
        rows["building_state, resident (common view)"] = direct("resident")
        for who in ("dispatcher", "resident"):
            rows[f"{who}: GET /buildings/{{id}} (page)"] = route(who, f"/buildings/{building_id}")
            rows[f"{who}: GET /api/v1/buildings/{{id}}/state"] = route(
                who, f"/api/v1/buildings/{building_id}/state"
            )
        results, _ = twin_map.run_rows(rows, args.requests)
    for client in clients.values():
        client.close()
    return results


def report(results: dict[str, dict[str, list[float]]], args) -> None:
    p = twin_map.p
    table = Table(title=f"The building view of {args.apartments:,} apartments, {args.requests} calls a row")
    for name in ("what", "p50 ms", "p95 ms", "p50 vs baseline", "p95 vs baseline", "with body p95 ms"):
        table.add_column(name, justify="left" if name == "what" else "right", no_wrap=name == "what")
    base = next(iter(results.values()))["server"]
    b50, b95 = p(base, 50), p(base, 95)
    slowest = 0.0
    for label, times in results.items():
        s50, s95 = p(times["server"], 50), p(times["server"], 95)
        served = ": GET" in label
        if served:
            slowest = max(slowest, s95)
        table.add_row(
            label, f"{s50:.1f}", f"{s95:.1f}", f"{s50 / b50:.1f}x", f"{s95 / b95:.1f}x",
            f"{p(times['total'], 95):.1f}" if served else "",
        )  # fmt: skip
    console.print(table)
    twin_map.verdict(
        f"the building view (page and JSON) under {TARGET_MS} ms at p95 server time", slowest, TARGET_MS
    )


if __name__ == "__main__":
    sys.exit(main())
