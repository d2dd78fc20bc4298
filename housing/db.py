"""Engine factory, column types, constraint naming and the unit-of-work helpers.

Nothing here runs at import time except the naming convention, which must be on the
shared metadata before the first table is declared so that Alembic sees stable names.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, create_engine, event, text
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


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


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
    if session.get_bind().dialect.name != "postgresql":
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
