"""`housing open311 keys`: the API keys civic apps file requests with."""

from typing import Annotated

import typer

from housing.cli.common import console, settings_or_exit

open311_app = typer.Typer(help="Open311 GeoReport v2", no_args_is_help=True)
open311_keys_app = typer.Typer(help="API keys civic apps file requests with", no_args_is_help=True)
open311_app.add_typer(open311_keys_app, name="keys")


@open311_keys_app.command("create")
def open311_keys_create(
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. the city 311 app")],
    user: Annotated[str, typer.Option(help="User name the requests are filed under")],
) -> None:
    """Create an Open311 API key; it is printed once and only its hash is kept."""
    from housing.db import make_engine, session_scope
    from housing.errors import DomainError
    from housing.open311.service import create_api_key

    settings = settings_or_exit()
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
        with session_scope(make_engine(settings_or_exit())) as session:
            deactivate_api_key(session, name=name)
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]Open311 key {name!r} deactivated[/green]")
