"""`housing users`: user accounts."""

from typing import Annotated

import typer

from housing.cli.common import console, settings_or_exit

users_app = typer.Typer(help="User accounts", no_args_is_help=True)


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

    settings = settings_or_exit()
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
