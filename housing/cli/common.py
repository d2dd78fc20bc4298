"""What every command shares: the console, the settings (a bad configuration exits 2), and
how amounts, refused imports and warnings are printed."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table

from housing.settings import Settings

console = Console()


def settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def exit_on_rejection() -> Iterator[None]:
    """A file the importer rejects: its errors are printed (line, field, reason), the command exits 1."""
    from housing.registry.importer import ImportRejected

    try:
        yield
    except ImportRejected as exc:
        print_rejection(exc)
        raise typer.Exit(1) from exc


def print_rejection(exc) -> None:
    console.print(f"[red]{exc.detail}[/red]")
    table = Table("line", "field", "reason")
    for error in exc.errors:
        table.add_row(str(error.line), error.field or "", error.reason)
    console.print(table)


def print_warnings(warnings: Sequence[str], count: int) -> None:
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, highlight=False)
    if count > len(warnings):
        console.print(f"... and {count - len(warnings)} more warnings", style="yellow")
