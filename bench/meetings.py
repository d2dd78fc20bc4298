"""Owners' meetings at city scale: the count and the protocol of a 1,000-apartment building with
every owner voting, next to a bare SQL sum of the same weights; the officials' page over 44,000
buildings with 5,000 meetings.

    python bench/meetings.py --url postgresql+psycopg://postgres@127.0.0.1:5432/meetbench \\
        --buildings 44000 --meetings 5000 --apartments 1000 --runs 5 --clients 4 --requests 200 --workers 2

It drops the public schema of the database (refused while its tables hold rows, unless
--reset), migrates it, and writes in SQL (before any clock starts): 12 districts, 900
companies with 12 months of quality scores each, --buildings buildings each managed by one of
them, and --meetings meetings on random buildings over the last 12 months (nine in ten closed,
seven in ten of those with a quorum, one to three questions each of every kind, the adopted
ones recorded as the building's decisions, a management_company one naming another company).
Then the voting building: --apartments flats (one in thirty non-residential, one in ten held
by two co-owners at 1/2 each) whose owners each have an account; a meeting of three questions
is drafted, published (the roll) and every share votes online, all through
housing.meetings.service, one transaction per ballot, as owners would.

Each of --runs runs then times, in a fresh session:

1. baseline: one SQL statement summing the ballots' weights (share x area, numeric) by
   question and choice: what the count computes, done by the database;
2. count: housing.meetings.closing.meeting_count (the roll, the answers, the exact sums and
   each question's outcome by the rule table);
3. close: close_meeting (the count, the stored results, the decisions, a notice to every
   owner), rolled back after each run;
4. protocol: protocol_data and protocol_pdf (the register of 1,100 ballots) in Uzbek.

It prints the median of the runs and each step's ratio to the baseline. Finally it serves the
app with uvicorn (--workers processes, as bench/web.py does) and sends --requests requests
from --clients threads to `GET /city/meetings` (the last 12 months; then one district) and
`GET /api/v1/city/meetings` as an official, next to `GET /healthz`, and prints p50 and p95 of
the server time (Server-Timing) and of the client's latency. Targets: the count within 3x of
the bare sum; the officials' page under 200 ms at p95.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import benchkit  # bench/benchkit.py, beside this script
import psycopg
import web  # bench/web.py: the server, log-in and load helpers
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlmodel import Session, col, select

from housing.accounts.models import User
from housing.actors import Actor
from housing.db import make_engine
from housing.meetings import closing, drafting, publishing, reading, voting
from housing.meetings.models import Meeting
from housing.meetings.protocol import protocol_pdf
from housing.meetings.protocol_source import protocol_data
from housing.meetings.rules import Choice, DecisionKind
from housing.settings import Settings

console = Console(width=None if sys.stdout.isatty() else 132)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--buildings", type=int, default=44_000)
    parser.add_argument("--meetings", type=int, default=5_000)
    parser.add_argument("--apartments", type=int, default=1_000, help="flats of the voting building")
    parser.add_argument("--runs", type=int, default=5, help="runs to take the median of")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (threads) on the page")
    parser.add_argument("--requests", type=int, default=200, help="requests per page, all clients together")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    if benchkit.refuses_to_drop(conninfo, args.url, args.reset, console):
        return 2
    console.print(
        f"{benchkit.machine(server)}, {args.buildings:,} buildings, {args.meetings:,} meetings, "
        f"a voting building of {args.apartments:,} flats, {args.runs} runs"
    )
    started = time.perf_counter()
    benchkit.fresh_schema(conninfo, args.url)
    with psycopg.connect(conninfo) as conn:
        seed_city(conn, buildings=args.buildings, meetings=args.meetings)
        building_id = seed_voting_building(conn, apartments=args.apartments)
        conn.commit()
    settings = Settings(db={"url": args.url})
    engine = make_engine(settings)
    try:
        seeded = time.perf_counter()
        meeting_id, ends = vote(engine, settings, building_id)
        voted = time.perf_counter() - seeded
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        console.print(
            f"seeded in {time.perf_counter() - started:.0f} s (the online vote of every owner: {voted:.1f} s)"
        )
        timings = {"baseline": [], "count": [], "close": [], "protocol": []}
        for _ in range(args.runs):
            for step, seconds in measure_count(engine, settings, meeting_id, ends).items():
                timings[step].append(seconds)
        web.make_official(engine, settings)
    finally:
        engine.dispose()
    report_count({step: statistics.median(values) for step, values in timings.items()}, args)
    report_page(page_times(args), args)
    return 0


# The city, in SQL


def seed_city(conn: psycopg.Connection, *, buildings: int, meetings: int) -> None:
    """Districts, companies and their scores, buildings, and meetings with results and decisions."""
    benchkit.seed_managed_buildings(conn, buildings)
    conn.execute(
        "INSERT INTO quality_score (company_id, period, total, method_version, computed_at) "
        "SELECT c.id, date_trunc('month', now() - m * interval '1 month')::date, 40 + random() * 55, 1, now() "
        "FROM management_company c CROSS JOIN generate_series(0, 11) m"
    )
    conn.execute(
        "INSERT INTO user_account (username, password_hash, role, is_active, created_at, updated_at) "
        "VALUES ('bench-admin', 'x', 'admin', true, now(), now())"
    )
    conn.execute(
        """
        INSERT INTO meeting (building_id, initiator, created_by, status, voting_starts, voting_ends,
            published_at, record_date, total_area_m2, ballots, chain_head, closed_at, quorum_reached,
            created_at, updated_at)
        SELECT b, 'company', (SELECT min(id) FROM user_account), s, e - interval '10 days', e,
            e - interval '30 days', (e - interval '30 days')::date, 3000, 0, repeat('0', 64),
            CASE WHEN s = 'closed' THEN e END, CASE WHEN s = 'closed' THEN random() < 0.7 END, now(), now()
        FROM (
            SELECT 1 + floor(random() * %(buildings)s)::int AS b,
                CASE WHEN g %% 10 = 0 THEN 'published' ELSE 'closed' END AS s,
                now() - random() * interval '360 days' AS e
            FROM generate_series(1, %(n)s) g
        ) m
        """,
        {"n": meetings, "buildings": buildings},
    )
    kinds = [kind.value for kind in DecisionKind]
    conn.execute(
        """
        INSERT INTO meeting_question (meeting_id, position, kind, company_id, fee_minor, currency,
            effective_from, outcome)
        SELECT m.id, p, k.kind,
            CASE WHEN k.kind = 'management_company' THEN (m.building_id %% 900 + 1) %% 900 + 1 END,
            CASE WHEN k.kind = 'management_fee' THEN 200000 END, 'UZS',
            (m.voting_ends + interval '20 days')::date,
            CASE WHEN m.status <> 'closed' THEN NULL WHEN NOT m.quorum_reached THEN 'no_quorum'
                 WHEN random() < 0.6 THEN 'adopted' ELSE 'rejected' END
        FROM meeting m
        CROSS JOIN LATERAL generate_series(1, 1 + m.id %% 3) p
        CROSS JOIN LATERAL (SELECT (%(kinds)s::text[])[1 + (m.id + p) %% %(count)s] AS kind) k
        """,
        {"kinds": kinds, "count": len(kinds)},
    )
    conn.execute(
        """
        INSERT INTO building_decision (building_id, meeting_id, question_id, kind, effective_from,
            company_id, fee_minor, currency, decided_at)
        SELECT m.building_id, m.id, q.id, q.kind, q.effective_from, q.company_id, q.fee_minor, 'UZS',
            m.closed_at
        FROM meeting_question q JOIN meeting m ON m.id = q.meeting_id
        WHERE q.outcome = 'adopted'
        """
    )


def seed_voting_building(conn: psycopg.Connection, *, apartments: int) -> int:
    """A building of `apartments` flats, their owners (one in ten flats with two co-owners at
    1/2) and a resident account for each owner; returns the building's id."""
    building_id = conn.execute(
        "INSERT INTO building (address, district_id, latitude, longitude, floors, created_at, updated_at) "
        "VALUES ('Voting building 1', 1, 41.3, 69.28, 16, now(), now()) RETURNING id"
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO building_management (building_id, company_id, valid_from, created_at) "
        "VALUES (%s, 1, DATE '2020-01-01', now())",
        (building_id,),
    )
    conn.execute(
        """
        INSERT INTO apartment (building_id, number, area_m2, registered_residents, residential,
            account_number, created_at, updated_at)
        SELECT %(b)s, g::text, 30 + (g * 3719 %% 9001) / 100.0, 2, g %% 30 <> 0, (9000000000 + g)::text, now(), now()
        FROM generate_series(1, %(n)s) g
        """,
        {"b": building_id, "n": apartments},
    )
    conn.execute(
        """
        INSERT INTO person (full_name, created_at, updated_at)
        SELECT 'Owner ' || a.number || '-' || k, now(), now()
        FROM apartment a CROSS JOIN LATERAL generate_series(1, CASE WHEN a.id %% 10 = 0 THEN 2 ELSE 1 END) k
        WHERE a.building_id = %s
        """,
        (building_id,),
    )
    conn.execute(
        """
        INSERT INTO ownership (apartment_id, person_id, share_numerator, share_denominator, valid_from, created_at)
        SELECT a.id, p.id, 1, CASE WHEN a.id %% 10 = 0 THEN 2 ELSE 1 END, DATE '2020-01-01', now()
        FROM apartment a JOIN person p ON p.full_name LIKE 'Owner ' || a.number || '-%%'
        WHERE a.building_id = %s
        """,
        (building_id,),
    )
    conn.execute(
        """
        INSERT INTO user_account (username, password_hash, role, person_id, is_active, created_at, updated_at)
        SELECT 'owner-' || o.person_id, 'x', 'resident', o.person_id, true, now(), now()
        FROM ownership o JOIN apartment a ON a.id = o.apartment_id WHERE a.building_id = %s
        """,
        (building_id,),
    )
    return building_id


# The vote, through the service


def vote(engine, settings: Settings, building_id: int) -> tuple[int, datetime]:
    """Drafts, publishes and votes a meeting of three questions in the building, every share
    online; returns the meeting's id and the end of its vote (before now, so it may close)."""
    drafted = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    starts, ends = drafted + timedelta(days=15), drafted + timedelta(days=25)
    with Session(engine, expire_on_commit=False) as session:
        admin = Actor.of(session.exec(select(User).where(User.username == "bench-admin")).one())
        meeting = drafting.draft_meeting(
            session,
            admin,
            building_id=building_id,
            texts={"uz": ("Umumiy yig'ilish", ""), "ru": ("Общее собрание", "")},
            voting_starts=starts,
            voting_ends=ends,
            now=drafted,
        )
        for kind, extra in (
            (DecisionKind.ordinary, {}),
            (DecisionKind.capital_repair, {}),
            (
                DecisionKind.management_fee,
                {"fee_minor": 250_000, "effective_from": (ends + timedelta(days=30)).date()},
            ),
        ):
            drafting.add_question(
                session,
                admin,
                meeting,
                kind=kind,
                texts={"uz": (f"Savol: {kind.value}", "")},
                now=drafted,
                **extra,
            )
        publishing.publish_meeting(session, admin, meeting, settings=settings, now=drafted)
        session.commit()
        questions = [q.id for q in reading.questions_of(session, meeting)]
        owners = session.exec(
            select(User).where(col(User.username).startswith("owner-")).order_by(User.id)
        ).all()
        choices = list(Choice)
        moment = starts + timedelta(hours=1)
        for n, user in enumerate(owners):
            actor = Actor.of(user)
            for entry in voting.voter_entries(session, actor, meeting):
                answers = {q: choices[(n + i) % 5 % 3] for i, q in enumerate(questions)}
                voting.cast_ballot(
                    session, actor, meeting, voter_id=entry.voter_id, answers=answers, now=moment
                )
                session.commit()
            moment += timedelta(seconds=1)
        return meeting.id, ends


def measure_count(engine, settings: Settings, meeting_id: int, ends: datetime) -> dict[str, float]:
    timings = {}
    with Session(engine) as session:
        started = time.perf_counter()
        session.execute(
            text(
                "SELECT a.question_id, a.choice, sum(v.area_m2 * v.share_numerator / v.share_denominator) "
                "FROM ballot b JOIN ballot_answer a ON a.ballot_id = b.id "
                "JOIN meeting_voter v ON v.id = b.voter_id WHERE b.meeting_id = :m "
                "GROUP BY a.question_id, a.choice"
            ),
            {"m": meeting_id},
        ).all()
        timings["baseline"] = time.perf_counter() - started
    with Session(engine) as session:
        started = time.perf_counter()
        meeting = session.get(Meeting, meeting_id)
        closing.meeting_count(session, meeting, settings=settings)
        timings["count"] = time.perf_counter() - started
    with Session(engine) as session:
        started = time.perf_counter()
        meeting = session.get(Meeting, meeting_id)
        closing.close_meeting(
            session, meeting, actor=None, settings=settings, now=ends + timedelta(minutes=5)
        )
        timings["close"] = time.perf_counter() - started
        started = time.perf_counter()
        pdf = protocol_pdf(protocol_data(session, meeting, settings=settings), "uz")
        timings["protocol"] = time.perf_counter() - started
        assert pdf.startswith(b"%PDF-")
        session.rollback()
    return timings


def report_count(median: dict[str, float], args: argparse.Namespace) -> None:
    table = Table(
        title=f"A meeting of {args.apartments:,} flats, every share voting: median of {args.runs} runs"
    )
    for name in ("step", "ms", "vs bare SQL sum"):
        table.add_column(name, justify="left" if name == "step" else "right")
    base = median["baseline"]
    for label, key in (
        ("baseline: SQL sum of the weights by question and choice", "baseline"),
        ("count: meeting_count (exact fractions, outcomes)", "count"),
        ("close: close_meeting (count, results, decisions, notices)", "close"),
        ("protocol: protocol_data + protocol_pdf (uz)", "protocol"),
    ):
        table.add_row(label, f"{median[key] * 1000:.1f}", f"{median[key] / base:.1f}x")
    console.print(table)
    ratio = median["count"] / base
    console.print(
        f"Target: the count within 3x of the bare sum: {ratio:.1f}x, "
        + ("[green]met[/green]" if ratio <= 3 else "[red]missed[/red]")
    )


# The officials' page, served


def page_times(args: argparse.Namespace) -> dict[str, tuple[list[float], list[float]]]:
    pages = [
        ("baseline: GET /healthz (SELECT 1)", "/healthz", False),
        ("official: GET /city/meetings (12 months)", "/city/meetings", True),
        ("official: GET /city/meetings?district_id=3", "/city/meetings?district_id=3", True),
        ("official: GET /api/v1/city/meetings", "/api/v1/city/meetings", True),
    ]
    return web.page_times(args, web.OFFICIAL, pages)


def report_page(results: dict[str, tuple[list[float], list[float]]], args: argparse.Namespace) -> None:
    web.report_pages(
        results,
        console,
        title=f"The officials' page over {args.buildings:,} buildings and {args.meetings:,} meetings, "
        f"{args.clients} concurrent clients",
        target="the officials' page under 200 ms at p95 (client)",
        limit_ms=200,
        counted=lambda label: not label.startswith("baseline"),
    )


if __name__ == "__main__":
    sys.exit(main())
