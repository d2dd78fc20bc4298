"""The few SQL expressions that PostgreSQL and SQLite spell differently, compiled per dialect.

Time arithmetic is done on epoch seconds (a float), which both databases can compute
from a stored UTC timestamp or a date: PostgreSQL with EXTRACT(EPOCH ...), SQLite with
julianday() on the text it stores. A date gives the epoch of its midnight read as UTC.
"""

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

# julianday() of 1970-01-01 00:00 UTC.
_UNIX_EPOCH_JULIAN_DAY = 2440587.5


class epoch(FunctionElement):  # lower case: it reads like the SQL function it stands for
    """Seconds since 1970-01-01 UTC of a timestamp, or of a date's midnight read as UTC."""

    type = Float()
    inherit_cache = True


class greatest(FunctionElement):
    """The largest argument; arguments must not be NULL (SQLite's max() would return NULL)."""

    type = Float()
    inherit_cache = True


class least(FunctionElement):
    """The smallest argument; arguments must not be NULL."""

    type = Float()
    inherit_cache = True


def _spelled(function: type[FunctionElement], *, sqlite: str, postgresql: str) -> None:
    """Compile `function` on each dialect to its template, `{}` standing for the arguments."""

    @compiles(function)
    def _on_sqlite(element: FunctionElement, compiler: Any, **kw: Any) -> str:
        return sqlite.format(compiler.process(element.clauses, **kw))

    @compiles(function, "postgresql")
    def _on_postgresql(element: FunctionElement, compiler: Any, **kw: Any) -> str:
        return postgresql.format(compiler.process(element.clauses, **kw))


_spelled(
    epoch,
    sqlite=f"((julianday({{}}) - {_UNIX_EPOCH_JULIAN_DAY}) * 86400.0)",
    postgresql="CAST(EXTRACT(EPOCH FROM {}) AS DOUBLE PRECISION)",
)
_spelled(greatest, sqlite="max({})", postgresql="GREATEST({})")
_spelled(least, sqlite="min({})", postgresql="LEAST({})")
