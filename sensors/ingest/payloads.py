"""MQTT payload validation: every check of a device's topic and payload, in one place.

Topic and payload in, readings or a rejection reason (`Rejected.kind`) out; last, the
values are checked against the registered device (`check_device`). Pure functions, no
I/O, so every malformed input has a unit test and the ingest worker only ever sees values
it can store. The contract and the rejection kinds: docs/ingest.md.
"""

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

MAX_BATCH = 1000  # readings in one buffered payload
THOUSANDTH = Decimal("0.001")
HUNDREDTH = Decimal("0.01")
METER_MAX = Decimal("99999999999.999")  # numeric(14, 3)
TEMPERATURE_RANGE = (Decimal(-60), Decimal(150))
# Device contract v2: the topic space is split into this many partitions. Devices compute
# their partition themselves, so changing the number is a contract change (v3).
PARTITIONS = 16
CONTRACTS = ("v2", "v1")


class Channel(StrEnum):
    meters = "meters"
    sensors = "sensors"


SUFFIX = {Channel.meters: "readings", Channel.sensors: "measurements"}


class Rejected(ValueError):
    """Why a message cannot be stored: a short kind for counters and a sentence for people."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Value:
    taken_at: datetime  # UTC
    value: Decimal
    seq: int | None


def partition_of(serial: str) -> str:
    """The v2 partition of a serial: CRC-32 (zlib, the one of zip/PNG) of its UTF-8 bytes
    modulo PARTITIONS, as two digits. CW-000001 -> "12"."""
    return f"{zlib.crc32(serial.encode()) % PARTITIONS:02d}"


def device_topic(root: str, channel: Channel | str, serial: str, contract: str = "v2") -> str:
    """The topic a device publishes on under contract v2 (partitioned) or v1."""
    channel = Channel(channel)
    if contract == "v2":
        return f"{root}/v2/{partition_of(serial)}/{channel}/{serial}/{SUFFIX[channel]}"
    if contract == "v1":
        return f"{root}/v1/{channel}/{serial}/{SUFFIX[channel]}"
    raise ValueError(f"unknown device contract {contract!r}; choose from {', '.join(CONTRACTS)}")


def parse_topic(topic: str, root: str) -> tuple[Channel, str]:
    """(channel, serial) of a v2 or v1 device topic under `root`.

    A v2 topic's partition must be one of the PARTITIONS two-digit names, but need not be
    the serial's own: the partition only spreads the load, any worker stores any serial.
    """
    parts = topic.split("/")
    base = root.split("/")
    if parts[: len(base)] != base or len(parts) < len(base) + 4:
        raise Rejected("bad_topic", f"topic {topic!r} is not under {root}/v2/ or {root}/v1/")
    version, rest = parts[len(base)], parts[len(base) + 1 :]
    if version == "v2":
        partition, rest = rest[0], rest[1:]
        if (
            len(partition) != 2
            or not partition.isascii()
            or not partition.isdigit()
            or int(partition) >= PARTITIONS
        ):
            raise Rejected(
                "bad_topic", f"topic {topic!r}: {partition!r} is not a partition 00..{PARTITIONS - 1:02d}"
            )
        shape = f"{root}/v2/PARTITION"
    elif version == "v1":
        shape = f"{root}/v1"
    else:
        raise Rejected("bad_topic", f"topic {topic!r} is not under {root}/v2/ or {root}/v1/")
    if len(rest) != 3:
        raise Rejected("bad_topic", f"topic {topic!r} is not {shape}/CHANNEL/SERIAL/SUFFIX")
    channel, serial, suffix = rest
    try:
        channel = Channel(channel)
    except ValueError:
        raise Rejected("bad_topic", f"topic {topic!r}: unknown channel {channel!r}") from None
    if suffix != SUFFIX[channel] or not serial or len(serial) > 40:
        raise Rejected(
            "bad_topic", f"topic {topic!r} does not match {shape}/{channel}/SERIAL/{SUFFIX[channel]}"
        )
    return channel, serial


def _no_constants(name: str) -> float:
    raise Rejected("bad_value", f"{name} is not a number")


def parse_payload(
    payload: bytes,
    *,
    serial: str,
    channel: Channel,
    now: datetime,
    max_bytes: int,
    future_tolerance: timedelta,
) -> list[Value]:
    """Every value of one message, or Rejected naming the first problem (the whole message is kept)."""
    if len(payload) > max_bytes:
        raise Rejected("too_large", f"payload of {len(payload)} bytes is over the {max_bytes}-byte limit")
    try:
        document = json.loads(payload, parse_float=Decimal, parse_constant=_no_constants)
    except Rejected:
        raise
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected("not_json", f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Rejected("bad_shape", "payload must be a JSON object")
    if document.get("serial", serial) != serial:
        raise Rejected(
            "wrong_serial", f"serial {document.get('serial')!r} published on the topic of {serial!r}"
        )
    if "readings" in document:
        entries = document["readings"]
        if not isinstance(entries, list) or not entries:
            raise Rejected("bad_shape", "'readings' must be a non-empty list")
        if len(entries) > MAX_BATCH:
            raise Rejected("bad_shape", f"{len(entries)} readings in one message; at most {MAX_BATCH}")
    else:
        entries = [document]
    latest = now + future_tolerance
    return [_value(entry, channel, latest) for entry in entries]


def _value(entry: object, channel: Channel, latest: datetime) -> Value:
    if not isinstance(entry, dict) or "ts" not in entry or "value" not in entry:
        raise Rejected("bad_shape", "each reading needs 'ts' and 'value'")
    taken_at = _timestamp(entry["ts"])
    if taken_at > latest:
        raise Rejected("future", f"timestamp {entry['ts']} is in the future")
    value = _number(entry["value"], channel)
    seq = entry.get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**31):
        raise Rejected("bad_shape", f"seq {seq!r} is not a non-negative integer")
    return Value(taken_at, value, seq)


def _timestamp(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise Rejected("bad_timestamp", f"ts {raw!r} is not an ISO 8601 string")
    try:
        taken_at = datetime.fromisoformat(raw)
    except ValueError:
        raise Rejected("bad_timestamp", f"ts {raw!r} is not an ISO 8601 time") from None
    if taken_at.tzinfo is None:
        raise Rejected("bad_timestamp", f"ts {raw!r} has no time zone")
    return taken_at.astimezone(UTC)


def _number(raw: object, channel: Channel) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise Rejected("bad_value", f"value {raw!r} is not a number")
    try:
        value = Decimal(raw)
        if not value.is_finite():
            raise Rejected("bad_value", f"value {raw} is not finite")
        if channel is Channel.meters:
            if value < 0:
                raise Rejected("bad_value", f"value {raw} is negative; a meter register counts up from 0")
            if value > METER_MAX:
                raise Rejected("bad_value", f"value {raw} is larger than a register holds")
            return value.quantize(THOUSANDTH)
        low, high = TEMPERATURE_RANGE
        if not low <= value <= high:
            raise Rejected("bad_value", f"temperature {raw} is outside {low}..{high} C")
        return value.quantize(HUNDREDTH)
    except InvalidOperation:
        raise Rejected("bad_value", f"value {raw} cannot be stored") from None


def check_device(
    channel: Channel, serial: str, values: list[Value], *, registered: bool, removed_on: date | None
) -> Rejected | None:
    """Why the values of a well-formed message cannot be stored for this device, or None.

    `registered` and `removed_on` are what the registry says about the serial (the store
    looks them up in bulk); a reading on or after the removal day belongs to no meter.
    """
    if not registered:
        kind = "meter" if channel is Channel.meters else "sensor"
        return Rejected("unknown_serial", f"no {kind} {serial} is registered")
    if removed_on is not None and any(v.taken_at.date() >= removed_on for v in values):
        return Rejected("removed_device", f"{serial} was removed on {removed_on}")
    return None
