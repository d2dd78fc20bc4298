"""A city to work with: `housing seed` (a generated city, in bulk) and `housing demo` (the
whole platform on one machine)."""

import secrets
import sys
from typing import Annotated

import typer
from rich.table import Table

from housing.cli.common import console, settings_or_exit
from housing.cli.processes import serve


def seed(
    apartments: Annotated[int, typer.Option(help="How many apartments to create")] = 3000,
    companies: Annotated[int | None, typer.Option(help="Companies (default: one per 600 apartments)")] = None,
) -> None:
    """Fill the database with a generated city, in bulk, with a progress bar."""
    from housing.db import make_engine
    from housing.registry.seeding import seed_city

    settings = settings_or_exit()
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


def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Prepare and print logins, do not serve")
    ] = False,
) -> None:
    """The whole platform on one machine: seeded city, broker, ingest, simulator, scheduler, web."""
    from billing.building_accounts.seeding import seed_demo_reports
    from billing.payments.reconciliation.seeding import seed_demo_gateway_payments
    from housing import demo as demo_run
    from housing import migrate
    from housing.announcements.seeding import seed_demo_announcements
    from housing.building_money.seeding import seed_demo_expenses
    from housing.db import make_engine
    from housing.meetings.seeding import seed_demo_meetings
    from housing.registry.seeding import reset_demo_users
    from housing.requests.seeding import seed_demo_requests
    from housing.twin.seeding import seed_demo_twin

    settings = settings_or_exit()
    migrate.upgrade(settings.db.url)
    engine = make_engine(settings)
    for line in demo_run.prepare(engine, settings):
        console.print(line)
    console.print(f"Database: {settings.db.url}")
    logins = reset_demo_users(engine, settings, password_for=lambda _role: secrets.token_urlsafe(9))
    console.print(seed_demo_requests(engine, settings))  # needs the demo users
    console.print(seed_demo_announcements(engine, settings))  # needs them too
    console.print(seed_demo_meetings(engine, settings))  # and so do the owners' meetings
    console.print(seed_demo_expenses(engine, settings))  # booked by the demo manager
    for line in demo_run.catch_up(engine, settings):  # after the users: their invoice notices
        console.print(line)
    console.print(seed_demo_reports(engine, settings))  # after billing: last quarter billed, paid, reported
    console.print(seed_demo_gateway_payments(engine, settings))  # Payme and Click yesterday, reconciled
    console.print(seed_demo_twin(engine, settings))  # last: grades before and after a few things go wrong
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
