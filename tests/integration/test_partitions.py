"""Monthly partitions of `reading` on PostgreSQL (the CI runs the suite there too)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from sensors.ingest.partitions import ensure_reading_partitions
from sensors.jobs import create_partitions
from tests.conftest import TEST_DATABASE_URL
from tests.factories.readings import add_readings, make_meter

ON_POSTGRES = (TEST_DATABASE_URL or "").startswith("postgresql")
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="reading is partitioned on PostgreSQL only")


def partitions(db) -> dict[str, str]:
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'reading'::regclass"
            )
        )
        return dict(rows.all())


def partition_of(session, meter_id: int, taken_at: datetime) -> str:
    return session.execute(
        text("SELECT tableoid::regclass::text FROM reading WHERE meter_id = :m AND taken_at = :t"),
        {"m": meter_id, "t": taken_at},
    ).scalar_one()


@postgres_only
def test_partitions_are_created_ahead_once(db):
    with db.begin() as connection:
        created = ensure_reading_partitions(connection, date(2031, 11, 20), 2)
    with db.begin() as connection:
        again = ensure_reading_partitions(connection, date(2031, 11, 20), 2)

    assert created == ["reading_2031_11", "reading_2031_12", "reading_2032_01"]
    assert again == []
    assert partitions(db)["reading_2031_12"] == (
        "FOR VALUES FROM ('2031-12-01 00:00:00+00') TO ('2032-01-01 00:00:00+00')"
    )


@postgres_only
def test_a_reading_lands_in_the_partition_of_its_utc_month(db, session):
    with db.begin() as connection:
        ensure_reading_partitions(connection, date(2034, 5, 1), 1)
    meter = make_meter(session)
    late_may = datetime(2034, 5, 31, 12, 0, tzinfo=UTC)
    tashkent_june = datetime(2034, 6, 1, 3, 0, tzinfo=ZoneInfo("Asia/Tashkent"))  # still May in UTC
    june = datetime(2034, 6, 1, 0, 0, tzinfo=UTC)
    add_readings(session, meter, [(late_may, "1"), (tashkent_june, "2"), (june, "3")])
    session.commit()

    assert partition_of(session, meter.id, late_may) == "reading_2034_05"
    assert partition_of(session, meter.id, tashkent_june) == "reading_2034_05"
    assert partition_of(session, meter.id, june) == "reading_2034_06"


@postgres_only
def test_a_late_partition_takes_over_the_rows_the_default_one_kept(db, session):
    meter = make_meter(session)
    taken_at = datetime(2036, 3, 10, 12, 0, tzinfo=UTC)
    add_readings(session, meter, [(taken_at, "42.5")])
    session.commit()
    assert partition_of(session, meter.id, taken_at) == "reading_default"
    session.commit()  # a reader's open transaction would hold the partition creation back

    with db.begin() as connection:
        created = ensure_reading_partitions(connection, date(2036, 3, 1), 0)

    assert created == ["reading_2036_03"]
    assert partition_of(session, meter.id, taken_at) == "reading_2036_03"
    value = session.execute(
        text("SELECT value FROM reading WHERE meter_id = :m"), {"m": meter.id}
    ).scalar_one()
    assert str(value) == "42.500"


@postgres_only
def test_the_job_reports_what_it_created(db, settings):
    settings.meters.partitions_ahead = 1

    first = create_partitions(db, settings, today=date(2038, 1, 15))
    second = create_partitions(db, settings, today=date(2038, 1, 15))

    assert first == "created 2 partitions: reading_2038_01, reading_2038_02"
    assert second == "all partitions exist through 1 months ahead"


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite behaviour")
def test_nothing_to_do_on_sqlite(db, settings):
    with db.begin() as connection:
        assert ensure_reading_partitions(connection, date(2031, 11, 20), 2) == []
    assert create_partitions(db, settings).startswith("nothing to do")


@postgres_only
def test_a_month_that_cannot_be_created_is_logged_and_the_others_are(db, session, settings, caplog):
    settings.meters.partitions_ahead = 2
    meter = make_meter(session)
    add_readings(session, meter, [(datetime(2040, 2, 10, tzinfo=UTC), "1")])  # lands in the default
    session.commit()
    with db.begin() as connection:  # a stray table in the way of February's partition
        connection.execute(text("CREATE TABLE reading_2040_02 (id integer)"))
    try:
        summary = create_partitions(db, settings, today=date(2040, 1, 15))
    finally:
        with db.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS reading_2040_02"))

    assert summary == "created 2 partitions: reading_2040_01, reading_2040_03; 1 failed: reading_2040_02"
    assert {"reading_2040_01", "reading_2040_03"} <= partitions(db).keys()
    assert "reading_2040_02" not in partitions(db)
    assert "creating partition reading_2040_02 failed" in caplog.text
    assert partition_of(session, meter.id, datetime(2040, 2, 10, tzinfo=UTC)) == "reading_default"
