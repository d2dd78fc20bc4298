"""The `housing` command: serve, worker, demo, seed, import, db, users, jobs, health, bill, scores."""

import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import housing.migrations.tables  # noqa: F401 - every table, so a flush resolves keys across packages
from housing.settings import Settings

app = typer.Typer(help="Smart-housing platform", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
users_app = typer.Typer(help="User accounts", no_args_is_help=True)
jobs_app = typer.Typer(help="Scheduled jobs, also runnable by hand", no_args_is_help=True)
import_app = typer.Typer(help="Bulk imports from CSV", no_args_is_help=True)
health_app = typer.Typer(help="Health checks for container orchestrators", no_args_is_help=True)
open311_app = typer.Typer(help="Open311 GeoReport v2", no_args_is_help=True)
open311_keys_app = typer.Typer(help="API keys civic apps file requests with", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(jobs_app, name="jobs")
app.add_typer(import_app, name="import")
app.add_typer(health_app, name="health")
app.add_typer(open311_app, name="open311")
open311_app.add_typer(open311_keys_app, name="keys")

console = Console()


def main() -> None:
    app()


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes")] = 1,
) -> None:
    """Run the web process (API, pages, webhooks)."""
    import uvicorn

    _settings()  # fail fast on bad configuration, before uvicorn forks
    uvicorn.run(
        "housing.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=_web_log_config(),
    )


def _web_log_config() -> dict:
    """uvicorn's logging plus our packages' INFO lines (a webhook's outcome) on stderr, in every worker."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["housing"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    config["handlers"]["housing"] = {
        "class": "logging.StreamHandler",
        "formatter": "housing",
        "stream": "ext://sys.stderr",
    }
    for package in ("housing", "sensors", "billing"):
        config["loggers"][package] = {"handlers": ["housing"], "level": "INFO", "propagate": False}
    return config


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (latest by default)."""
    from housing import migrate

    settings = _settings()
    migrate.upgrade(settings.db.url, revision)
    console.print(f"[green]Database at {revision}[/green]")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models."""
    from housing import migrate

    migrate.revision(message, _settings().db.url)


@db_app.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    from housing import migrate

    migrate.current(_settings().db.url)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(prompt=True)],
    role: Annotated[
        str, typer.Option(prompt=True, help="admin, official, manager, dispatcher, technician, resident")
    ],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    company_id: Annotated[int | None, typer.Option()] = None,
    person_id: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Create a user, e.g. the first admin of a new installation."""
    from housing.accounts.models import Role
    from housing.accounts.passwords import Passwords
    from housing.accounts.service import create_user
    from housing.db import make_engine, session_scope
    from housing.errors import DomainError

    settings = _settings()
    try:
        with session_scope(make_engine(settings)) as session:
            user = create_user(
                session,
                passwords=Passwords.from_settings(settings),
                username=username,
                password=password,
                role=Role(role),
                company_id=company_id,
                person_id=person_id,
            )
    except (DomainError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]Created {user.role} {user.username} (id {user.id})[/green]")


@open311_keys_app.command("create")
def open311_keys_create(
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. the city 311 app")],
    user: Annotated[str, typer.Option(help="User name the requests are filed under")],
) -> None:
    """Create an Open311 API key; it is printed once and only its hash is kept."""
    from housing.db import make_engine, session_scope
    from housing.errors import DomainError
    from housing.open311.service import create_api_key

    settings = _settings()
    try:
        with session_scope(make_engine(settings)) as session:
            key, record = create_api_key(session, name=name, username=user)
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]Created Open311 key {record.name!r} (id {record.id}), filing as {user}[/green]")
    console.print("Give it to the key's holder now; it cannot be shown again:")
    # Plain print: no markup or wrapping may touch the key.
    print(key)


@open311_keys_app.command("deactivate")
def open311_keys_deactivate(name: Annotated[str, typer.Option(help="The key's name")]) -> None:
    """Stop an Open311 API key from filing requests."""
    from housing.db import make_engine, session_scope
    from housing.errors import DomainError
    from housing.open311.service import deactivate_api_key

    try:
        with session_scope(make_engine(_settings())) as session:
            deactivate_api_key(session, name=name)
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]Open311 key {name!r} deactivated[/green]")


@jobs_app.command("list")
def jobs_list() -> None:
    """Show the job table (calendar jobs in HOUSING_TIMEZONE)."""
    from rich.markup import escape

    from housing.scheduler import JOBS, trigger_for

    settings = _settings()
    table = Table("name", "schedule", "what it does", title=f"jobs, city time {settings.timezone}")
    for job in JOBS:
        table.add_row(job.name, escape(str(trigger_for(job, settings))), job.doc)
    console.print(table)


@jobs_app.command("run")
def jobs_run(
    name: str,
    on: Annotated[
        str | None,
        typer.Option(
            help="Run a calendar job (monthly-billing, daily-penalties, nightly-scores, create-partitions)"
            " as on this day, YYYY-MM-DD: it catches up every day or month it missed through it."
            " Default: today."
        ),
    ] = None,
) -> None:
    """Run one job now, exactly as the scheduler would."""

    from housing.scheduler import run_job
    from housing.validation import parse_day

    settings = _settings()
    day = None
    if on is not None:
        day = parse_day(on)  # the API's own bounds: a day of 2000..2100
        if day is None:
            console.print(f"[red]--on must be a day like 2026-11-03 (years 2000-2100), not {on!r}[/red]")
            raise typer.Exit(2)
    try:
        result = run_job(settings, name, on=day)
    except KeyError as exc:
        console.print(f"[red]No job named {name!r}; see `housing jobs list`[/red]")
        raise typer.Exit(2) from exc
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{name}: {result}")


@app.command()
def worker() -> None:
    """Run the scheduler process (exactly one per installation)."""
    from housing.scheduler import run_forever

    run_forever(_settings())


@app.command()
def ingest() -> None:
    """Run an MQTT ingest process (any number, each with its own name HOUSING_MQTT__CLIENT_ID)."""
    from housing.db import make_engine
    from sensors.ingest.worker import run_ingest

    settings = _settings()
    run_ingest(make_engine(settings), settings.mqtt)


@health_app.command("ingest")
def health_ingest(
    max_age: int = 30,
    stall_after: Annotated[
        int | None,
        typer.Option(
            help="Seconds without a commit while messages wait (default HOUSING_MQTT__STALL_AFTER_S)"
        ),
    ] = None,
) -> None:
    """Print the ingest process's counters; exit 1 when it is stale, lost the broker, is stuck
    with messages waiting, or failed to reach the database since its last commit."""
    import json
    import time

    from sensors.ingest.worker import ingest_problems

    config = _settings().mqtt
    path = config.status_path
    try:
        status = json.loads(path.read_text())
    except FileNotFoundError:
        console.print(f"[red]no status file at {path}: is `housing ingest` running?[/red]")
        raise typer.Exit(1) from None
    except ValueError as exc:
        console.print(f"[red]unreadable status file {path}: {exc}[/red]")
        raise typer.Exit(1) from None
    now = time.time()
    table = Table(
        "counter",
        "value",
        title=f"ingest process {status.get('client_id')} ({now - status.get('at', 0):.0f}s ago)",
    )
    for key, value in status.items():
        table.add_row(key, str(value))
    console.print(table)
    problems = ingest_problems(
        status,
        now=now,
        max_age=max_age,
        stall_after=stall_after if stall_after is not None else config.stall_after_s,
    )
    if problems:
        for problem in problems:
            console.print(f"[red]unhealthy: {problem}[/red]")
        raise typer.Exit(1)
    console.print("healthy")


@health_app.command("worker")
def health_worker(max_age: int = 120) -> None:
    """Exit 0 when the worker's heartbeat is younger than MAX_AGE seconds and no calendar job is behind.

    A calendar job is behind when it has not finished its day (monthly billing: last month)
    HOUSING_SCHEDULER__BEHIND_AFTER_MINUTES after its scheduled time.
    """
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from housing.db import make_engine
    from housing.scheduler import calendar_status

    settings = _settings()
    heartbeat = settings.scheduler.heartbeat_file
    age = time.time() - heartbeat.stat().st_mtime if heartbeat.exists() else None
    healthy = True
    if age is None or age > max_age:
        console.print(
            f"[red]worker heartbeat {heartbeat} is {'missing' if age is None else f'{age:.0f}s old'}[/red]"
        )
        healthy = False
    else:
        console.print(f"worker alive, heartbeat {age:.0f}s ago")
    engine = make_engine(settings)
    try:
        statuses = calendar_status(settings, engine)
    except SQLAlchemyError as exc:
        console.print(f"[red]cannot read the calendar jobs' progress: {exc.__class__.__name__}: {exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    table = Table("job", "done through", "expected through", "state", title="calendar jobs")
    for status in statuses:
        done = "never" if status.done_through is None else status.done_through.isoformat()
        state = "[red]behind[/red]" if status.behind else "ok"
        table.add_row(status.name, done, status.expected_through.isoformat(), state)
    console.print(table)
    behind = [status.name for status in statuses if status.behind]
    if behind:
        console.print(f"[red]behind: {', '.join(behind)} (see `housing jobs run NAME`)[/red]")
        healthy = False
    if not healthy:
        raise typer.Exit(1)


@import_app.command("buildings")
def import_buildings(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file, UTF-8")],
    company_tax_id: Annotated[str, typer.Option("--company", help="Tax id (INN) of the managing company")],
) -> None:
    """Import buildings, apartments, owners and shares; a file with any bad row imports nothing."""
    from sqlmodel import select

    from housing.clock import local_today
    from housing.db import make_engine, session_scope
    from housing.registry.importer import ImportRejected, import_buildings_csv
    from housing.registry.models import ManagementCompany

    settings = _settings()
    try:
        with session_scope(make_engine(settings)) as session:
            company = session.exec(
                select(ManagementCompany).where(ManagementCompany.tax_id == company_tax_id)
            ).first()
            if company is None:
                console.print(f"[red]No company with tax id {company_tax_id}[/red]")
                raise typer.Exit(2)
            with file.open(encoding="utf-8-sig", newline="") as stream:
                report = import_buildings_csv(
                    session, stream, company_id=company.id, today=local_today(settings.timezone)
                )
    except ImportRejected as exc:
        _print_rejection(exc)
        raise typer.Exit(1) from exc
    console.print(
        f"[green]Imported {report.buildings} buildings, {report.apartments} apartments, "
        f"{report.people} people, {report.ownerships} ownership shares[/green]"
    )


@import_app.command("meters")
def import_meters(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file, UTF-8")],
) -> None:
    """Register meters and condition sensors; a file with any bad row imports nothing."""
    from housing.accounts.models import Role
    from housing.actors import Actor
    from housing.clock import local_today
    from housing.db import make_engine, session_scope
    from housing.registry.importer import ImportRejected
    from sensors.meters.importer import import_meters_csv

    settings = _settings()
    # The command line is the operator: it sees every building, as an admin does.
    operator = Actor(user_id=0, username="cli", role=Role.admin, company_id=None, person_id=None, token_id=0)
    try:
        with (
            session_scope(make_engine(settings)) as session,
            file.open(encoding="utf-8-sig", newline="") as stream,
        ):
            report = import_meters_csv(session, stream, actor=operator, today=local_today(settings.timezone))
    except ImportRejected as exc:
        _print_rejection(exc)
        raise typer.Exit(1) from exc
    console.print(f"[green]Registered {report.meters} meters and {report.sensors} sensors[/green]")


@import_app.command("bank-statement")
def import_bank_statement(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: date,account_number,amount,reference")
    ],
) -> None:
    """Book a bank statement's payments to the accounts they name; a file with any bad row books nothing."""
    from sqlmodel import select

    from billing.payments.statement import import_bank_statement as book_statement
    from housing.clock import local_today
    from housing.db import make_engine, session_scope
    from housing.registry.importer import ImportRejected
    from housing.registry.models import Apartment

    settings = _settings()
    try:
        with (
            session_scope(make_engine(settings)) as session,
            file.open(encoding="utf-8-sig", newline="") as stream,
        ):
            result = book_statement(
                session,
                stream,
                apartments=select(Apartment),
                user_id=None,
                today=local_today(settings.timezone),
            )
    except ImportRejected as exc:
        _print_rejection(exc)
        raise typer.Exit(1) from exc
    console.print(
        f"[green]Booked {result.recorded} payments ({result.total_minor / 100:,.2f} UZS);"
        f" {result.already_recorded} were booked before[/green]"
    )


def _print_rejection(exc) -> None:
    console.print(f"[red]{exc.detail}[/red]")
    table = Table("line", "field", "reason")
    for error in exc.errors:
        table.add_row(str(error.line), error.field or "", error.reason)
    console.print(table)


@app.command()
def seed(
    apartments: Annotated[int, typer.Option(help="How many apartments to create")] = 3000,
    companies: Annotated[int | None, typer.Option(help="Companies (default: one per 600 apartments)")] = None,
) -> None:
    """Fill the database with a generated city, in bulk, with a progress bar."""
    from housing.db import make_engine
    from housing.registry.seeding import seed_city

    settings = _settings()
    engine = make_engine(settings)
    from rich.progress import Progress

    with Progress(console=console) as progress:
        task = progress.add_task("apartments", total=apartments)
        summary = seed_city(
            engine,
            apartments=apartments,
            companies=companies,
            on_progress=lambda done: progress.update(task, completed=done),
        )
    console.print(f"[green]{summary}[/green]")


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Prepare and print logins, do not serve")
    ] = False,
) -> None:
    """The whole platform on one machine: seeded city, broker, ingest, simulator, scheduler, web."""
    from housing import demo as demo_run
    from housing import migrate
    from housing.db import make_engine
    from housing.registry.seeding import reset_demo_users
    from housing.requests.seeding import seed_demo_requests

    settings = _settings()
    migrate.upgrade(settings.db.url)
    engine = make_engine(settings)
    for line in demo_run.prepare(engine, settings):
        console.print(line)
    console.print(f"Database: {settings.db.url}")
    logins = reset_demo_users(engine, settings, password_for=lambda _role: secrets.token_urlsafe(9))
    console.print(seed_demo_requests(engine, settings))  # needs the demo users
    table = Table("role", "user name", "password", title="Demo logins (passwords change at every start)")
    for role, username, password in logins:
        table.add_row(role, username, password)
    console.print(table)
    engine.dispose()
    if no_serve:
        return
    with demo_run.background(settings, console.print):
        console.print(f"Open http://{host}:{port}/ (API docs at /docs). Ctrl+C stops everything.")
        sys.stdout.flush()
        serve(host=host, port=port, workers=1)


# `housing bill` exit codes, by how the run ended (documented in its --help and the README).
BILL_EXIT = {"issued": 0, "failed": 1, "nothing to do": 3, "locked out": 4}  # 2: bad usage
BILL_HELP = """Issue one invoice per personal account for a month (what the monthly job does).

Prints the summary and every warning (the first 100). Exit codes: 0 invoices issued (a dry
run: would be); 1 failed (a batch failed or apartments were held back: they stay unbilled,
the next run retries them); 2 bad usage (a malformed month, a month not over yet);
3 nothing to do (every account already billed); 4 locked out (another billing run holds
the lock; nothing done, run it again later)."""


@app.command(help=BILL_HELP)
def bill(
    period: Annotated[str, typer.Option(help="The month to bill, YYYY-MM")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be issued; write nothing")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes billing batches at once (PostgreSQL; default: the CPUs, at most 4;"
            " SQLite: 1). A dry run uses one.",
        ),
    ] = None,
) -> None:

    from billing.jobs import outcome_of, run_period
    from billing.rules import BillingRules
    from billing.runs.service import run_billing
    from housing.clock import local_today
    from housing.db import make_engine, session_scope
    from housing.errors import DomainError
    from housing.validation import month_start

    settings = _settings()
    try:
        month = month_start(period)  # the API's own check: shape and 2000-01..2100-12
    except ValueError as exc:
        console.print(f"[red]--period must look like 2026-10, from 2000-01 to 2100-12, not {period!r}[/red]")
        raise typer.Exit(2) from exc
    engine = make_engine(settings)
    today = local_today(settings.timezone)
    try:
        if not dry_run:
            run = run_period(engine, settings, month, today, workers=workers)
            console.print(run.summary, markup=False)
            _print_warnings(run.warnings, run.warning_count)
            raise typer.Exit(BILL_EXIT[run.outcome.value])
        with session_scope(engine) as session:
            summary = run_billing(
                session,
                period=month,
                today=today,
                dry_run=True,
                timezone=settings.timezone,
                rules=BillingRules.from_settings(settings),
            )
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    table = Table("number", "apartment", "lines", "total, UZS", title=str(summary))
    for invoice in summary.invoices[:50]:
        table.add_row(
            invoice.number,
            str(invoice.apartment_id),
            str(len(invoice.lines)),
            f"{invoice.total_minor / 100:,.2f}",
        )
    console.print(table)
    if len(summary.invoices) > 50:
        console.print(f"... and {len(summary.invoices) - 50} more")
    _print_warnings(summary.warnings, summary.warning_count)
    outcome = outcome_of(issued=summary.issued, held_back=summary.failed, failed_batches=0)
    raise typer.Exit(BILL_EXIT[outcome.value])


def _print_warnings(warnings: Sequence[str], count: int) -> None:
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, highlight=False)
    if count > len(warnings):
        console.print(f"... and {count - len(warnings)} more warnings", style="yellow")


@app.command()
def scores(
    period: Annotated[str, typer.Option(help="The month to score, YYYY-MM")],
    district_id: Annotated[int | None, typer.Option(help="Show the ranking of this district only")] = None,
    top: Annotated[int, typer.Option(help="Lines of the ranking to print")] = 30,
) -> None:
    """Recompute and store every company's quality score for a month, then print the ranking."""
    from housing import clock
    from housing.db import make_engine, session_scope, utcnow
    from housing.scores import scoring
    from housing.scores import service as score_service

    settings = _settings()
    try:
        month = clock.month(clock.parse_period(period), settings.timezone)
    except ValueError as exc:
        console.print(f"[red]--period must look like 2026-10, not {period!r}[/red]")
        raise typer.Exit(2) from exc
    with session_scope(make_engine(settings)) as session:
        scored = score_service.recompute_month(session, month, now=utcnow())
        ranked, count = score_service.ranking(session, month.period, district_id=district_id, limit=top)
    codes = [c.code for c in scoring.COMPONENTS]
    table = Table(
        "rank", "company", "total", *[c.short for c in scoring.COMPONENTS],
        title=f"Quality scores {month.label}: {scored} companies scored, method {scoring.METHOD_VERSION}",
    )  # fmt: skip
    for score in ranked:
        by_code = {c.component: c for c in score.components}
        table.add_row(
            str(score.rank),
            score.company_name,
            f"{score.total:.2f}",
            *[_component_cell(by_code.get(code)) for code in codes],
        )
    console.print(table)
    console.print(
        "Each component: points (sample size). Every input: GET /api/v1/scores.csv?period=" + month.label
    )
    if count > len(ranked):
        console.print(f"... and {count - len(ranked)} more")


def _component_cell(component) -> str:
    if component is None or component.points is None:
        return "-"
    return f"{component.points:.1f} ({component.sample_size})"


@app.command()
def simulate(
    rate: Annotated[float, typer.Option(help="Messages a second")] = 100.0,
    seconds: Annotated[float | None, typer.Option(help="Stop after this long")] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many messages")] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject a fault (repeatable): duplicates, out_of_order, garbage, leak, lukewarm, cold_flat"
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Broker host (default: HOUSING_MQTT__HOST or 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Broker port (default: HOUSING_MQTT__PORT)")] = None,
    protocol: Annotated[int | None, typer.Option(help="5 (MQTT 5) or 4 (MQTT 3.1.1)")] = None,
    username: Annotated[str | None, typer.Option(envvar="HOUSING_SIMULATOR_USERNAME")] = None,
    password: Annotated[str | None, typer.Option(envvar="HOUSING_SIMULATOR_PASSWORD")] = None,
    contract: Annotated[
        str, typer.Option(help="Device contract: v2 (partitioned topics) or v1 (the old topics)")
    ] = "v2",
) -> None:
    """Publish realistic readings for the seeded smart meters and sensors, as devices would.

    A message counts as acknowledged only when the broker accepted it for delivery: at
    MQTT 5 a PUBACK "no matching subscribers" (0x10) is reported as dropped. An MQTT 3.1.1
    broker cannot tell a publisher that, so at protocol 4 drops are invisible here."""
    import logging

    from sensors.simulator.publisher import PublisherError
    from sensors.simulator.run import run_simulator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        summary = run_simulator(
            _settings(), rate=rate, seconds=seconds, count=count, faults=fault or (),
            host=host, port=port, protocol=protocol, username=username, password=password,
            contract=contract,
        )  # fmt: skip
    except (ValueError, PublisherError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(summary)


if __name__ == "__main__":
    main()
