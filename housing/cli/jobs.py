"""`housing jobs`: the scheduler's job table, and any job run by hand."""

from typing import Annotated

import typer
from rich.table import Table

from housing.cli.common import console, settings_or_exit

jobs_app = typer.Typer(help="Scheduled jobs, also runnable by hand", no_args_is_help=True)


@jobs_app.command("list")
def jobs_list() -> None:
    """Show the job table (calendar jobs in HOUSING_TIMEZONE)."""
    from rich.markup import escape

    from housing.scheduler import JOBS, trigger_for

    settings = settings_or_exit()
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
            "--on",
            "--date",
            help="Run a calendar job (monthly-billing, daily-penalties, nightly-scores, create-partitions)"
            " as on this day, YYYY-MM-DD: it catches up every day or month it missed through it."
            " Default: today.",
        ),
    ] = None,
) -> None:
    """Run one job now, exactly as the scheduler would."""

    from housing.scheduler import run_job
    from housing.validation import parse_day

    settings = settings_or_exit()
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
