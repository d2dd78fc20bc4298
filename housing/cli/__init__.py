"""The `housing` command: one module per command group, put together here.

serve, worker, ingest, simulate (processes.py); seed, demo (city.py); db, users, jobs,
import, health, open311, notifications (their modules); bill (billing.py); scores (scores.py); bot (bot.py).
"""

import typer

import housing.migrations.tables  # noqa: F401 - every table, so a flush resolves keys across packages
from housing.cli import billing, bot, city, processes, scores
from housing.cli.db import db_app
from housing.cli.health import health_app
from housing.cli.imports import import_app
from housing.cli.jobs import jobs_app
from housing.cli.notifications import notifications_app
from housing.cli.open311 import open311_app
from housing.cli.users import users_app

app = typer.Typer(help="Smart-housing platform", no_args_is_help=True, pretty_exceptions_enable=False)
app.command()(processes.serve)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(jobs_app, name="jobs")
app.command()(processes.worker)
app.command()(processes.ingest)
app.add_typer(import_app, name="import")
app.add_typer(health_app, name="health")
app.add_typer(open311_app, name="open311")
app.add_typer(notifications_app, name="notifications")
app.command()(city.seed)
app.command()(city.demo)
app.command(help=billing.BILL_HELP)(billing.bill)
app.command()(scores.scores)
app.command()(processes.simulate)
app.command()(bot.bot)


def main() -> None:
    app()
