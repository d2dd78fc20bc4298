"""`housing import`: bulk imports from CSV (buildings, meters, a bank statement, a provider's statement)."""

from pathlib import Path
from typing import Annotated

import typer

from housing.cli.common import console, exit_on_rejection, settings_or_exit
from housing.i18n import plain_money

import_app = typer.Typer(help="Bulk imports from CSV", no_args_is_help=True)


@import_app.command("buildings")
def import_buildings(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file, UTF-8")],
    company_tax_id: Annotated[str, typer.Option("--company", help="Tax id (INN) of the managing company")],
) -> None:
    """Import buildings, apartments, owners and shares; a file with any bad row imports nothing."""
    from sqlmodel import select

    from housing.clock import local_today
    from housing.db import make_engine, session_scope
    from housing.registry.importer import import_buildings_csv
    from housing.registry.models import ManagementCompany

    settings = settings_or_exit()
    with exit_on_rejection(), session_scope(make_engine(settings)) as session:
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
    from sensors.meters.importer import import_meters_csv

    settings = settings_or_exit()
    # The command line is the operator: it sees every building, as an admin does.
    operator = Actor(user_id=0, username="cli", role=Role.admin, company_id=None, person_id=None, token_id=0)
    with (
        exit_on_rejection(),
        session_scope(make_engine(settings)) as session,
        file.open(encoding="utf-8-sig", newline="") as stream,
    ):
        report = import_meters_csv(session, stream, actor=operator, today=local_today(settings.timezone))
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
    from housing.registry.models import Apartment

    settings = settings_or_exit()
    with (
        exit_on_rejection(),
        session_scope(make_engine(settings)) as session,
        file.open(encoding="utf-8-sig", newline="") as stream,
    ):
        result = book_statement(
            session, stream, apartments=select(Apartment), user_id=None, today=local_today(settings.timezone)
        )
    console.print(
        f"[green]Booked {result.recorded} payments ({plain_money(result.total_minor, 'UZS')});"
        f" {result.already_recorded} were booked before[/green]"
    )


@import_app.command("provider-statement")
def import_provider_statement(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV: transaction_id,time,amount,account_number,state"
        ),
    ],
    gateway: Annotated[str, typer.Option("--gateway", help="Whose statement it is: payme or click")],
) -> None:
    """Import a Payme or Click statement file, all lines or none, and reconcile the days it covers."""
    from billing.models import MERCHANT_GATEWAYS, Gateway
    from billing.payments.reconciliation.statement import import_provider_statement as import_lines
    from housing.clock import now
    from housing.db import make_engine, session_scope

    if gateway not in MERCHANT_GATEWAYS:
        console.print(f"[red]--gateway is one of {', '.join(MERCHANT_GATEWAYS)}, not {gateway!r}[/red]")
        raise typer.Exit(2)
    settings = settings_or_exit()
    with (
        exit_on_rejection(),
        session_scope(make_engine(settings)) as session,
        file.open(encoding="utf-8-sig", newline="") as stream,
    ):
        result = import_lines(
            session,
            stream,
            gateway=Gateway(gateway),
            apartments=None,
            user_id=None,
            timezone=settings.timezone,
            now=now(),
        )
    days = ", ".join(day.isoformat() for day in result.days)
    console.print(
        f"[green]Imported {result.imported} lines ({result.already_imported} imported before,"
        f" {result.replaced} now refunded); reconciled {gateway} on {days}[/green]"
    )
