"""`housing bill`: issue a month's invoices by hand, with exit codes a script can act on."""

from typing import Annotated

import typer
from rich.table import Table

from housing.cli.common import console, print_warnings, settings_or_exit
from housing.i18n import plain_money

# `housing bill` exit codes, by how the run ended (documented in its --help and the README).
BILL_EXIT = {"issued": 0, "failed": 1, "nothing to do": 3, "locked out": 4}  # 2: bad usage
BILL_HELP = """Issue one invoice per personal account for a month (what the monthly job does).

Prints the summary and every warning (the first 100). Exit codes: 0 invoices issued (a dry
run: would be); 1 failed (a batch failed or apartments were held back: they stay unbilled,
the next run retries them); 2 bad usage (a malformed month, a month not over yet);
3 nothing to do (every account already billed); 4 locked out (another billing run holds
the lock; nothing done, run it again later)."""


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
    from billing.models import DEFAULT_CURRENCY
    from billing.rules import BillingRules
    from billing.runs.service import run_billing
    from housing.clock import local_today
    from housing.db import make_engine, session_scope
    from housing.errors import DomainError
    from housing.validation import month_start

    settings = settings_or_exit()
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
            print_warnings(run.warnings, run.warning_count)
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
    table = Table("number", "apartment", "lines", "total", title=str(summary))
    for invoice in summary.invoices[:50]:
        table.add_row(
            invoice.number,
            str(invoice.apartment_id),
            str(len(invoice.lines)),
            plain_money(invoice.total_minor, DEFAULT_CURRENCY),
        )
    console.print(table)
    if len(summary.invoices) > 50:
        console.print(f"... and {len(summary.invoices) - 50} more")
    print_warnings(summary.warnings, summary.warning_count)
    outcome = outcome_of(issued=summary.issued, held_back=summary.failed, failed_batches=0)
    raise typer.Exit(BILL_EXIT[outcome.value])
