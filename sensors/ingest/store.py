"""Turns a batch of MQTT messages into rows: readings, measurements and rejections, in one transaction.

The hot path avoids the ORM: serials resolve through a small cache and rows go in with
COPY on PostgreSQL (executemany elsewhere), duplicates dropped by the primary key.
"""

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from housing.db import is_postgres
from sensors.ingest.payloads import Channel, Rejected, Value, check_device, parse_payload, parse_topic
from sensors.models import Measurement, Meter, Reading, ReadingSource, RejectedMessage, Sensor

UNKNOWN_SERIAL_TTL_S = 60.0  # a meter registered a minute ago starts being accepted
REJECTED_PAYLOAD_KEEP = 4096  # bytes of a rejected payload worth keeping for a human


@dataclass(frozen=True, slots=True)
class Message:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class BatchResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def merge(self, other: "BatchResult") -> "BatchResult":
        return BatchResult(
            received=self.received + other.received,
            stored=self.stored + other.stored,
            duplicates=self.duplicates + other.duplicates,
            rejected=self.rejected + other.rejected,
        )


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    removed_on: date | None


class DeviceDirectory:
    """serial -> id for meters and sensors, loaded in bulk for each batch's unseen serials."""

    def __init__(self) -> None:
        self._known: dict[tuple[Channel, str], Device] = {}
        self._unknown: dict[tuple[Channel, str], float] = {}

    def resolve(self, connection: Connection, wanted: Iterable[tuple[Channel, str]]) -> None:
        now = time.monotonic()
        missing = {key for key in wanted if key not in self._known and self._unknown.get(key, 0.0) < now}
        for channel, model in ((Channel.meters, Meter), (Channel.sensors, Sensor)):
            serials = sorted(serial for ch, serial in missing if ch is channel)
            for start in range(0, len(serials), 1000):
                chunk = serials[start : start + 1000]
                rows = connection.execute(
                    select(model.serial, model.id, model.removed_on).where(model.serial.in_(chunk))
                )
                for serial, id_, removed_on in rows:
                    self._known[(channel, serial)] = Device(id_, removed_on)
        for key in missing - self._known.keys():
            self._unknown[key] = now + UNKNOWN_SERIAL_TTL_S

    def get(self, channel: Channel, serial: str) -> Device | None:
        return self._known.get((channel, serial))


class ReadingStore:
    def __init__(
        self, engine: Engine, *, prefix: str, max_payload_bytes: int, future_tolerance: timedelta
    ) -> None:
        self.engine = engine
        self.prefix = prefix
        self.max_payload_bytes = max_payload_bytes
        self.future_tolerance = future_tolerance
        self.devices = DeviceDirectory()
        self._postgres = is_postgres(engine)

    def write(self, messages: Sequence[Message]) -> BatchResult:
        """Stores a batch; raises (storing nothing) only while the database is unreachable.

        Any other database error means some message in the batch cannot be stored: the
        batch is split in halves until that message stands alone, and it is kept as
        rejected, so one poison message never blocks the good ones behind it.
        """
        try:
            return self._write(messages)
        except (OperationalError, InterfaceError):
            raise
        except DBAPIError as exc:
            if len(messages) == 1:
                return self._reject_unstorable(messages[0], exc)
            middle = len(messages) // 2
            return self.write(messages[:middle]).merge(self.write(messages[middle:]))

    def _reject_unstorable(self, message: Message, exc: DBAPIError) -> BatchResult:
        reason = f"could not be stored: {str(exc.orig or exc).strip()}"
        with self.engine.begin() as connection:
            connection.execute(insert(RejectedMessage), [_rejection(message, "store_failed", reason)[1]])
        result = BatchResult(received=1)
        result.rejected["store_failed"] += 1
        return result

    def _write(self, messages: Sequence[Message]) -> BatchResult:
        result = BatchResult(received=len(messages))
        now = datetime.now(UTC)
        parsed: list[tuple[Message, Channel, str, list[Value]]] = []
        rejected: list[tuple[str, dict]] = []
        for message in messages:
            try:
                channel, serial = parse_topic(message.topic, self.prefix)
                values = parse_payload(
                    message.payload,
                    serial=serial,
                    channel=channel,
                    now=now,
                    max_bytes=self.max_payload_bytes,
                    future_tolerance=self.future_tolerance,
                )
            except Rejected as exc:
                rejected.append(_rejection(message, exc.kind, str(exc)))
                continue
            parsed.append((message, channel, serial, values))

        with self.engine.begin() as connection:
            self.devices.resolve(connection, {(channel, serial) for _, channel, serial, _ in parsed})
            readings, measurements = [], []
            for message, channel, serial, values in parsed:
                device = self.devices.get(channel, serial)
                problem = check_device(
                    channel,
                    serial,
                    values,
                    registered=device is not None,
                    removed_on=device.removed_on if device is not None else None,
                )
                if problem:
                    rejected.append(_rejection(message, problem.kind, str(problem)))
                    continue
                rows = readings if channel is Channel.meters else measurements
                for v in values:
                    rows.append((device.id, v.taken_at, v.value, v.seq, message.received_at))
            result.stored = self._insert_readings(connection, readings) + self._insert_measurements(
                connection, measurements
            )
            result.duplicates = len(readings) + len(measurements) - result.stored
            if rejected:
                connection.execute(insert(RejectedMessage), [row for _kind, row in rejected])
        result.rejected.update(kind for kind, _row in rejected)
        return result

    def _insert_readings(self, connection: Connection, rows: list[tuple]) -> int:
        if not rows:
            return 0
        if self._postgres:
            return _copy_then_insert(connection, "reading", "meter_id", rows, with_source=True)
        return _insert_ignoring_duplicates(
            connection,
            Reading,
            [
                {
                    "meter_id": m,
                    "taken_at": t,
                    "value": v,
                    "source": ReadingSource.mqtt.value,
                    "seq": s,
                    "received_at": r,
                }
                for m, t, v, s, r in rows
            ],
        )

    def _insert_measurements(self, connection: Connection, rows: list[tuple]) -> int:
        if not rows:
            return 0
        if self._postgres:
            return _copy_then_insert(connection, "measurement", "sensor_id", rows, with_source=False)
        return _insert_ignoring_duplicates(
            connection,
            Measurement,
            [{"sensor_id": d, "taken_at": t, "value": v, "received_at": r} for d, t, v, _s, r in rows],
        )


def _rejection(message: Message, kind: str, reason: str) -> tuple[str, dict]:
    return kind, {
        "topic": message.topic[:300],
        "payload": message.payload[:REJECTED_PAYLOAD_KEEP],
        "reason": reason[:300],
        "received_at": message.received_at,
    }


def _insert_ignoring_duplicates(connection: Connection, model: type, rows: list[dict]) -> int:
    dialect = postgresql if is_postgres(connection) else sqlite
    statement = dialect.insert(model).on_conflict_do_nothing()
    return connection.execute(statement, rows).rowcount


def _copy_then_insert(
    connection: Connection, table: str, key: str, rows: list[tuple], *, with_source: bool
) -> int:
    """COPY into a session-local staging table, then one INSERT ... ON CONFLICT DO NOTHING.

    COPY is the fastest way in, and the INSERT's row count is exactly the new rows, so
    duplicates (QoS 1 redelivery, devices resending) are counted without a query each.
    """
    staging = f"{table}_incoming"
    connection.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
            f"(device_id integer, taken_at timestamptz, value numeric, seq integer, received_at timestamptz) "
            f"ON COMMIT DELETE ROWS"
        )
    )
    with (
        connection.connection.driver_connection.cursor() as cursor,
        cursor.copy(f"COPY {staging} (device_id, taken_at, value, seq, received_at) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    if with_source:
        columns, values = (
            f"{key}, taken_at, value, source, seq, received_at",
            ("device_id, taken_at, value, 'mqtt', seq, received_at"),
        )
    else:
        columns, values = f"{key}, taken_at, value, received_at", "device_id, taken_at, value, received_at"
    inserted = connection.execute(
        text(f"INSERT INTO {table} ({columns}) SELECT {values} FROM {staging} ON CONFLICT DO NOTHING")  # noqa: S608 - fixed names
    )
    return inserted.rowcount
