"""Engine factory, column types, constraint naming and the unit-of-work helpers.

Nothing here runs at import time except the naming convention, which must be on the
shared metadata before the first table is declared so that Alembic sees stable names.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel

from housing.errors import NotFound
from housing.settings import Settings

M = TypeVar("M", bound=SQLModel)

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def among(session: Session, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN (ids)`; on PostgreSQL one array parameter, so a batch of thousands stays one bind."""
    ids = list(ids)
    if is_postgres(session):
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    return column.in_(ids)


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` primary keys for rows about to be written in bulk, so no RETURNING is needed.

    PostgreSQL: taken from the table's sequence, as an insert would. Elsewhere (SQLite, one
    writer at a time): the numbers after the largest stored id.
    """
    if count <= 0:
        return []
    if is_postgres(session):
        sequence = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")
        return list(session.execute(sequence, {"table": table.name, "n": count}).scalars())
    largest = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(largest + 1, largest + 1 + count))


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Writes many rows of one table in the session's transaction: COPY on PostgreSQL, executemany elsewhere.

    Each row gives every column to fill (Python-side defaults are not applied). COPY is
    several times faster than an INSERT per row and keeps one statement, however many rows.
    """
    if not rows:
        return
    if not is_postgres(session):
        session.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    as_json = {name for name in columns if isinstance(table.c[name].type, JSON)}
    cursor = session.connection().connection.driver_connection.cursor()
    names = ", ".join(f'"{name}"' for name in columns)  # column names from the table, not from input
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in as_json else row[c] for c in columns])


def utcnow() -> datetime:
    return datetime.now(UTC)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


def apply_changes(session: Session, row: M, changes: dict[str, Any]) -> M:
    """Sets the changed fields (a PATCH body's, unset ones left out) and writes the row."""
    for name, value in changes.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    return row


def get_or_404(session: Session, model: type[M], id_: int, label: str) -> M:
    row = session.get(model, id_)
    if row is None:
        raise NotFound(f"{label} {id_} not found")
    return row


def make_engine(settings: Settings) -> Engine:
    url = settings.db.url
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=settings.db.echo, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, echo=settings.db.echo, pool_size=settings.db.pool_size, pool_pre_ping=True)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, and WAL lets pages read during ingestion.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def is_postgres(bind: Engine | Connection | Session) -> bool:
    """Whether an engine, a connection or a session talks to PostgreSQL: the one dialect check."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return bind.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction for a job, a CLI command or a message batch: commit or roll back."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def advisory_lock(session: Session, key: int) -> Iterator[bool]:
    """A transaction-scoped PostgreSQL advisory lock; always granted on SQLite (one writer)."""
    if not is_postgres(session):
        yield True
        return
    got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar_one()
    yield bool(got)


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: services flush, this commits once before the response."""
    with session_scope(request.app.state.engine) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is an error
# response and not a silent loss after the client already heard "201 Created".
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
