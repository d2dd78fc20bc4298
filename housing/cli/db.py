"""`housing db`: the database schema (migrations)."""

from typing import Annotated

import typer

from housing.cli.common import console, settings_or_exit

db_app = typer.Typer(help="Database schema", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (latest by default)."""
    from housing import migrate

    settings = settings_or_exit()
    migrate.upgrade(settings.db.url, revision)
    console.print(f"[green]Database at {revision}[/green]")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models."""
    from housing import migrate

    migrate.revision(message, settings_or_exit().db.url)


@db_app.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    from housing import migrate

    migrate.current(settings_or_exit().db.url)
