"""Test database and app fixtures.

The suite runs on SQLite by default. With HOUSING_TEST_DATABASE_URL set (CI sets it
to the local PostgreSQL) every test runs there instead, and an unreachable database
fails the run rather than skipping it.
"""

import gc
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

import housing.migrations.tables  # noqa: F401 - all tables on the metadata
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing import clock, migrate
from housing.app import create_app
from housing.db import make_engine
from housing.settings import Settings

TEST_DATABASE_URL = os.environ.get("HOUSING_TEST_DATABASE_URL")
TEST_SECRET = "test-secret-that-is-long-enough-0123456789"


def make_settings(url: str, **groups) -> Settings:
    """Test settings on the database at `url`; `groups` replace whole setting groups (stripe={...})."""
    return Settings(
        **groups,
        environment="test",
        db={"url": url},
        auth={
            "secret_key": TEST_SECRET,
            "argon2_time_cost": 1,
            "argon2_memory_kib": 64,
            "login_rate_limit": "5/minute",
        },
    )


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def collect_garbage_now() -> None:
    """A full collection now, then everything alive frozen out of later ones (see below)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True, scope="module")
def _garbage_collected_between_modules() -> None:
    """Collects garbage between test modules, outside any timed wait, then freezes what survives.

    Every test builds an app, and the suite's heap grows to gigabytes; measured over tests/api
    and tests/e2e, automatic full collections took up to 39 s, and one landing inside a browser
    test's page load or a fuzzed request turned into a timeout. Collected here and frozen
    (gc.freeze), the objects alive now are never walked again, so later collections only look at
    what later modules allocate. Tests that wait with a deadline (the browser's, the fuzzer's)
    call `collect_garbage_now` again just before.
    """
    collect_garbage_now()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(make_settings(database_url))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # a CI that asked for PostgreSQL must not pass without it
        pytest.exit(f"test database {database_url} is unreachable: {exc}", returncode=3)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(database_url)
    yield engine
    engine.dispose()


# Every id sequence a test advanced starts again from 1, as on a fresh database.
_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false)"
    " FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def _wipe(engine: Engine) -> None:
    """Empties every table (children first) and, on PostgreSQL, restarts the id sequences.

    On PostgreSQL only the tables holding rows are emptied, found in one query: a TRUNCATE
    of all 70-odd tables after every test cost 0.3-2 s (it replaces each table's files),
    which was most of the suite's time there; DELETE of a few small tables takes milliseconds.
    """
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            holding_rows = " UNION ALL ".join(
                f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables
            )
            filled = set(connection.execute(text(holding_rows)).scalars())
            tables = [table for table in tables if table in filled]
        for table in tables:
            connection.execute(text(f'DELETE FROM "{table}"'))
        if engine.dialect.name == "postgresql":
            connection.execute(_RESTART_SEQUENCES)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """An empty database for one test; committed data is wiped afterwards."""
    yield engine
    _wipe(engine)


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    with Session(db, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app(settings: Settings, db: Engine):
    return create_app(settings, engine=db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


class FrozenClock:
    """`housing.clock.now` held at a moment the test sets: every "today" and issue time follows it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.moment = datetime(2026, 11, 1, tzinfo=UTC)
        monkeypatch.setattr(clock, "now", lambda: self.moment)

    def set(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("freeze the clock at an aware moment")
        self.moment = moment.astimezone(UTC)
        return self.moment

    def at(self, day: date, hour: int = 0, minute: int = 0, timezone: str = "Asia/Tashkent") -> datetime:
        """The clock at a local time of `day`."""
        return self.set(datetime.combine(day, time(hour, minute), ZoneInfo(timezone)))


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    return FrozenClock(monkeypatch)


@pytest.fixture
def tashkent_tariffs(db: Engine) -> None:
    """Tashkent's services and tariffs, committed before the test's session starts."""
    seed_tashkent_tariffs(db)
