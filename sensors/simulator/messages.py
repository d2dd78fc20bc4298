"""Device messages: the faults one can ask for, the JSON documents, and the garbage kinds.

Every message is an `Outgoing` (topic, payload bytes, what kind of message it is), so a
round can be inspected without a broker.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sensors.simulator.devices import Device
from sensors.simulator.profiles import TIMEZONE


class Fault(StrEnum):
    duplicates = "duplicates"
    out_of_order = "out_of_order"
    garbage = "garbage"
    leak = "leak"
    lukewarm = "lukewarm"
    cold_flat = "cold_flat"


GARBAGE_KINDS = ("not_json", "bad_shape", "nan", "negative", "future", "wrong_serial", "oversized")
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=TIMEZONE)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    kind: str  # reading, measurement, batch, duplicate, garbage
    serial: str
    label: str = ""  # the garbage kind


def local_iso(at: datetime) -> str:
    return at.astimezone(TIMEZONE).isoformat()


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def garbage_message(
    kind: str,
    device: Device,
    other_serial: str,
    at: datetime,
    *,
    prefix: str,
    max_payload_bytes: int,
    contract: str = "v2",
) -> Outgoing:
    """One message the ingest worker must reject, of the given GARBAGE_KINDS kind."""
    topic = device.topic(prefix, contract)
    value = device.value / 1000
    good = {"ts": local_iso(at), "value": value, "seq": device.seq}
    if kind == "not_json":
        payload = b"\x00\xffmeter says hello {"
    elif kind == "bad_shape":
        payload = encode({"reading": value, "when": good["ts"]})
    elif kind == "nan":
        payload = json.dumps(good | {"value": float("nan")}).encode()  # NaN is not JSON
    elif kind == "negative":
        payload = encode(good | {"value": -max(value, 1.0)})
    elif kind == "future":
        payload = encode(good | {"ts": local_iso(FAR_FUTURE)})
    elif kind == "wrong_serial":
        payload = encode({"serial": other_serial} | good)
    elif kind == "oversized":
        payload = encode(good | {"pad": "x" * (max_payload_bytes + 1)})
    else:
        raise ValueError(f"unknown garbage kind {kind!r}")
    return Outgoing(topic, payload, "garbage", device.serial, kind)


def parse_faults(faults: Iterable[Fault | str]) -> frozenset[Fault]:
    """Fault names as typed on the command line ('out-of-order' or 'out_of_order')."""
    parsed = set()
    for fault in faults:
        name = str(fault.value if isinstance(fault, Fault) else fault).strip().lower().replace("-", "_")
        try:
            parsed.add(Fault(name))
        except ValueError:
            known = ", ".join(f.value for f in Fault)
            raise ValueError(f"unknown fault {fault!r}; choose from {known}") from None
    return frozenset(parsed)
