"""Failures on demand, for the tests that show one failing item does not stop the rest: a
database that refuses an insert (a trigger, on PostgreSQL and SQLite alike), as a full disk or
a lost connection would, and a function that raises for one item."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from housing.db import is_postgres


def refuse_inserts(db: Engine, table: str, condition: str = "1 = 1") -> None:
    """From now on an insert into `table` fails ('refused by the test') where `condition`, SQL on
    the NEW row, holds; until allow_inserts(db, table)."""
    name = f"refuse_{table}"
    with db.begin() as connection:
        if is_postgres(connection):
            connection.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            connection.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
                    f"WHEN ({condition}) EXECUTE FUNCTION {name}()"
                )
            )
        else:
            connection.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {condition} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )


def allow_inserts(db: Engine, table: str) -> None:
    """Takes back refuse_inserts(db, table)."""
    name = f"refuse_{table}"
    with db.begin() as connection:
        if is_postgres(connection):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            connection.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
        else:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def fail_when(
    monkeypatch: pytest.MonkeyPatch,
    module: object,
    name: str,
    failing: Callable[..., bool],
    error: str = "the disk is full",
) -> Callable:
    """Replaces `module.name` with the real function that raises RuntimeError(`error`) instead
    when `failing` holds for its arguments; returns the real one, to put back."""
    real = getattr(module, name)

    def real_or_fail(*args, **kw):
        if failing(*args, **kw):
            raise RuntimeError(error)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, real_or_fail)
    return real
