"""Monthly partitions of `reading` on PostgreSQL, created ahead of the readings that will need them.

Partition `reading_YYYY_MM` holds FROM the first of the month 00:00 UTC TO the first of the
next. Readings outside every monthly partition land in `reading_default` (created by the
migration), so a missing partition never loses a reading; when a month's partition is
created late, the rows the default partition already holds for that month are moved into it
in the same transaction. On SQLite (no partitioning) everything here does nothing.
"""

from datetime import date

from sqlalchemy import Connection, text

from housing.clock import add_months
from housing.db import is_postgres

PARENT = "reading"
DEFAULT = "reading_default"
LOCK_TIMEOUT = "10s"


def partition_name(month: date) -> str:
    return f"{PARENT}_{month:%Y_%m}"


def existing_partitions(connection: Connection) -> set[str]:
    """Names of the partitions of `reading` (empty when it is not partitioned)."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :parent AND p.relnamespace = current_schema()::regnamespace"
        ),
        {"parent": PARENT},
    )
    return {name for (name,) in rows}


def _partitioned(connection: Connection) -> bool:
    if not is_postgres(connection):
        return False
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid "
                "WHERE c.relname = :parent AND c.relnamespace = current_schema()::regnamespace)"
            ),
            {"parent": PARENT},
        ).scalar_one()
    )


def ensure_reading_partitions(connection: Connection, today: date, months_ahead: int) -> list[str]:
    """Creates the missing partitions from `today`'s month to `months_ahead` months after it.

    Returns the names created (none on a second run, none on SQLite). Run it inside a
    transaction. Creating a partition needs a brief exclusive lock on `reading` and on the
    default partition; rather than queue the ingest behind a long transaction, it gives up
    after `LOCK_TIMEOUT` (the transaction fails; the next run tries again). The scheduled
    job calls `missing_months` and `create_partition` itself, one transaction per month.
    """
    return [create_partition(connection, month) for month in missing_months(connection, today, months_ahead)]


def missing_months(connection: Connection, today: date, months_ahead: int) -> list[date]:
    """The months from `today`'s to `months_ahead` after it without a partition (none on SQLite)."""
    if not _partitioned(connection):
        return []
    existing = existing_partitions(connection)
    months = [add_months(today, offset) for offset in range(months_ahead + 1)]
    return [month for month in months if partition_name(month) not in existing]


def create_partition(connection: Connection, month: date) -> str:
    """Creates `month`'s partition (the first of the month given), inside the caller's transaction."""
    name = partition_name(month)
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    _create(connection, name, month, add_months(month, 1), DEFAULT in existing_partitions(connection))
    return name


def _create(connection: Connection, name: str, start: date, end: date, has_default: bool) -> None:
    # Names and bounds come from dates formatted here, never from input.
    bounds = f"FROM ('{start.isoformat()} 00:00:00+00') TO ('{end.isoformat()} 00:00:00+00')"
    window = {"start": f"{start.isoformat()} 00:00:00+00", "end": f"{end.isoformat()} 00:00:00+00"}
    stray = (
        has_default
        and connection.execute(
            text(
                f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} "  # noqa: S608 - a constant table name
                "WHERE taken_at >= CAST(:start AS timestamptz) AND taken_at < CAST(:end AS timestamptz))"
            ),
            window,
        ).scalar_one()
    )
    if not stray:
        connection.execute(
            text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} FOR VALUES {bounds}")
        )
        return
    # The default partition already holds rows of this month: PostgreSQL refuses to add a
    # partition that would take them, so move them into a plain table and attach that.
    connection.execute(text(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE"))
    connection.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT} "  # noqa: S608 - constant and generated names
            "WHERE taken_at >= CAST(:start AS timestamptz) AND taken_at < CAST(:end AS timestamptz) "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        window,
    )
    connection.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {bounds}"))
