"""`housing health`: health checks for container orchestrators."""

from typing import Annotated

import typer
from rich.table import Table

from housing.cli.common import console, settings_or_exit

health_app = typer.Typer(help="Health checks for container orchestrators", no_args_is_help=True)


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

    config = settings_or_exit().mqtt
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

    settings = settings_or_exit()
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
