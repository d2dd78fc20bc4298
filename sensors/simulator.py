"""Simulated devices: realistic readings for the seeded smart meters and sensors, over MQTT.

Two halves. The profile functions are pure: how much water, electricity, gas and heat a
household uses in each quarter hour of the local day (water peaks in the morning and the
evening, electricity in the evening, gas at cooking hours plus heating in winter) and
what the temperature sensors show (hot water about 62 C, living rooms about 21 C).
`Simulator` turns them into device messages, one round per simulated 15-minute step
(every smart meter and sensor once), with the faults asked for, and publishes them with
paho at QoS 1 at a chosen rate.

Simulated time starts after the newest stored reading (at most a day back) and runs as
fast as the rate allows until it catches up with the clock; from then on each round
waits for its quarter hour, so no reading is ever stamped in the future (the ingest
worker would reject it). Timestamps carry the Asia/Tashkent offset, +05:00.

Faults, on request (`--fault NAME`, repeatable):
  duplicates    about 2% of readings are sent twice
  out_of_order  messages of a round are shuffled, and now and then a meter goes quiet
                for a few rounds and then sends its current reading before a batch
                ({"readings": [...]}) of the older ones
  garbage       one bad message in every GARBAGE_EVERY, cycling through GARBAGE_KINDS:
                not JSON, wrong shape, NaN, negative, far-future timestamp, a serial
                publishing on another serial's topic, an oversized payload
  leak          one apartment's cold water never stops, night included
  lukewarm      one building's hot water at 45 C
  cold_flat     one indoor sensor at 15 C
"""

import json
import logging
import math
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, and_, func, select

from housing.db import make_engine, utcnow
from housing.registry.models import Apartment, Building
from housing.settings import CITY_TIMEZONE, Settings
from sensors.ingest.payloads import CONTRACTS, Channel, device_topic
from sensors.models import Meter, MeterKind, Reading, Sensor, SensorKind

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo(CITY_TIMEZONE)  # the simulated devices' clocks: the default city
STEP = timedelta(minutes=15)
STEPS_PER_DAY = 96
CATCH_UP = timedelta(days=1)  # the earliest default start: at most this far behind the clock
DEFAULT_BUILDING_AREA_M2 = 3000.0


class Fault(StrEnum):
    duplicates = "duplicates"
    out_of_order = "out_of_order"
    garbage = "garbage"
    leak = "leak"
    lukewarm = "lukewarm"
    cold_flat = "cold_flat"


GARBAGE_KINDS = ("not_json", "bad_shape", "nan", "negative", "future", "wrong_serial", "oversized")
GARBAGE_EVERY = 50  # one garbage message per this many good ones
DUPLICATE_SHARE = 0.02
OFFLINE_SHARE = 0.01  # chance per round that a meter goes quiet (out_of_order)
OFFLINE_ROUNDS = (1, 4)
LEAK_M3_PER_STEP = 0.006  # 24 litres an hour: a running toilet cistern
LUKEWARM_C = 45.0
COLD_FLAT_C = 15.0
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=TIMEZONE)


# Profiles: pure functions of kind, local time and household.


def _shape(*weights: float) -> tuple[float, ...]:
    """24 hourly weights scaled to a mean of 1, so daily use / 96 * weight is a quarter hour's use."""
    assert len(weights) == 24
    total = sum(weights)
    return tuple(w * 24 / total for w in weights)


WATER_SHAPE = _shape(
    0.25, 0.06, 0.03, 0.03, 0.06, 0.5, 1.7, 2.6, 2.1, 1.3, 0.9, 0.9,
    1.1, 1.0, 0.8, 0.7, 0.8, 1.1, 1.6, 2.2, 2.4, 1.9, 1.2, 0.6,
)  # fmt: skip
ELECTRICITY_SHAPE = _shape(
    0.5, 0.45, 0.42, 0.42, 0.45, 0.55, 0.9, 1.2, 1.0, 0.8, 0.75, 0.75,
    0.85, 0.8, 0.75, 0.75, 0.85, 1.1, 1.6, 2.0, 2.2, 2.0, 1.5, 0.9,
)  # fmt: skip
COOKING_SHAPE = _shape(
    0.01, 0.0, 0.0, 0.0, 0.02, 0.3, 1.6, 2.2, 1.4, 0.6, 0.6, 1.2,
    2.4, 1.8, 0.6, 0.4, 0.6, 1.4, 2.8, 3.0, 1.8, 0.8, 0.3, 0.05,
)  # fmt: skip
HEATING_SHAPE = _shape(
    1.1, 1.15, 1.2, 1.2, 1.2, 1.15, 1.1, 1.0, 0.95, 0.9, 0.85, 0.8,
    0.8, 0.8, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.05, 1.1, 1.1, 1.1,
)  # fmt: skip
# Share of full heating demand by month: Tashkent heats from mid-October to mid-April.
HEATING_BY_MONTH = {1: 1.0, 2: 0.85, 3: 0.5, 4: 0.1, 10: 0.15, 11: 0.6, 12: 0.95}

# Per day: cold water m3 a person, hot water m3 a person, electricity kWh (flat + a
# person), gas m3 for cooking (flat + a person) and for heating per m2 at full demand,
# building heat Gcal per m2 at full demand.
COLD_WATER_M3 = 0.10
HOT_WATER_M3 = 0.05
ELECTRICITY_KWH = (2.5, 1.3)
COOKING_GAS_M3 = (0.25, 0.12)
HEATING_GAS_M3_PER_M2 = 0.03
HEAT_GCAL_PER_M2 = 0.0011

# Water and gas flow in short draw-offs: a quiet quarter hour mostly shows nothing.
DRAW_OFF = {MeterKind.cold_water: 0.008, MeterKind.hot_water: 0.006, MeterKind.gas: 0.04}


def heating_factor(day: date) -> float:
    return HEATING_BY_MONTH.get(day.month, 0.0)


def daily_use(kind: MeterKind | str, day: date, *, residents: int, area_m2: float) -> float:
    """Expected use of one day in the meter's unit (m3, kWh, Gcal)."""
    kind = MeterKind(kind)
    people = max(residents, 1)
    if kind is MeterKind.cold_water:
        return COLD_WATER_M3 * people
    if kind is MeterKind.hot_water:
        return HOT_WATER_M3 * people
    if kind is MeterKind.electricity:
        return ELECTRICITY_KWH[0] + ELECTRICITY_KWH[1] * people
    if kind is MeterKind.gas:
        cooking = COOKING_GAS_M3[0] + COOKING_GAS_M3[1] * people
        return cooking + HEATING_GAS_M3_PER_M2 * area_m2 * heating_factor(day)
    return HEAT_GCAL_PER_M2 * area_m2 * heating_factor(day)


def mean_daily_use(kind: MeterKind | str, *, residents: int, area_m2: float) -> float:
    """Average daily use over a year (for estimating a register with no readings)."""
    days = [date(2025, month, 15) for month in range(1, 13)]
    return sum(daily_use(kind, d, residents=residents, area_m2=area_m2) for d in days) / 12


def expected_step_use(kind: MeterKind | str, at: datetime, *, residents: int, area_m2: float) -> float:
    """Expected use in the quarter hour starting at `at` (aware), by the local hour."""
    kind = MeterKind(kind)
    local = at.astimezone(TIMEZONE)
    hour, day = local.hour, local.date()
    if kind is MeterKind.gas:
        cooking = COOKING_GAS_M3[0] + COOKING_GAS_M3[1] * max(residents, 1)
        heating = HEATING_GAS_M3_PER_M2 * area_m2 * heating_factor(day)
        return (cooking * COOKING_SHAPE[hour] + heating * HEATING_SHAPE[hour]) / STEPS_PER_DAY
    shape = {
        MeterKind.cold_water: WATER_SHAPE,
        MeterKind.hot_water: WATER_SHAPE,
        MeterKind.electricity: ELECTRICITY_SHAPE,
        MeterKind.heat: HEATING_SHAPE,
    }[kind]
    return daily_use(kind, day, residents=residents, area_m2=area_m2) / STEPS_PER_DAY * shape[hour]


def draw_step_use(kind: MeterKind | str, expected: float, rng: random.Random) -> float:
    """One random quarter hour's use with the given expectation (never negative)."""
    draw_off = DRAW_OFF.get(MeterKind(kind))
    if draw_off is not None and expected < draw_off:
        return draw_off * rng.uniform(0.5, 1.5) if rng.random() < expected / draw_off else 0.0
    return expected * rng.uniform(0.6, 1.4)


def hot_water_temperature(at: datetime, rng: random.Random, *, lukewarm: bool = False) -> float:
    """Supply temperature at the riser: about 62 C, a little lower at the peaks."""
    if lukewarm:
        return round(LUKEWARM_C + rng.gauss(0, 0.6), 2)
    hour = at.astimezone(TIMEZONE).hour
    peak = 1.5 if hour in (7, 8, 19, 20, 21) else 0.0
    return round(62.5 - peak + rng.gauss(0, 0.6), 2)


def indoor_temperature(at: datetime, rng: random.Random, *, cold: bool = False) -> float:
    """A living room: about 21 C in the heating season, warmer in summer afternoons."""
    if cold:
        return round(COLD_FLAT_C + rng.gauss(0, 0.3), 2)
    local = at.astimezone(TIMEZONE)
    hour = local.hour + local.minute / 60
    if heating_factor(local.date()) > 0:
        base = 21.0 + 0.7 * math.cos(2 * math.pi * (hour - 19) / 24)
    else:
        base = 24.5 + 2.0 * math.cos(2 * math.pi * (hour - 16) / 24)
    return round(base + rng.gauss(0, 0.25), 2)


# Devices and messages.


@dataclass(slots=True)
class Device:
    """A smart meter or a sensor as the simulator drives it."""

    serial: str
    kind: str  # a MeterKind or SensorKind value
    is_meter: bool
    residents: int = 1
    area_m2: float = 50.0
    apartment_id: int | None = None
    building_id: int | None = None
    value: int = 0  # the register in thousandths of the unit (meters)
    seq: int = 0
    last_at: datetime | None = None  # the newest stored reading
    leak: bool = False
    faulty: bool = False  # lukewarm or cold flat, for sensors
    quiet_rounds: int = 0
    held: list[dict[str, Any]] = field(default_factory=list)

    def topic(self, root: str, contract: str = "v2") -> str:
        return device_topic(root, Channel.meters if self.is_meter else Channel.sensors, self.serial, contract)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    kind: str  # reading, measurement, batch, duplicate, garbage
    serial: str
    label: str = ""  # the garbage kind


def local_iso(at: datetime) -> str:
    return at.astimezone(TIMEZONE).isoformat()


def _encode(document: dict[str, Any]) -> bytes:
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
        payload = _encode({"reading": value, "when": good["ts"]})
    elif kind == "nan":
        payload = json.dumps(good | {"value": float("nan")}).encode()  # NaN is not JSON
    elif kind == "negative":
        payload = _encode(good | {"value": -max(value, 1.0)})
    elif kind == "future":
        payload = _encode(good | {"ts": local_iso(FAR_FUTURE)})
    elif kind == "wrong_serial":
        payload = _encode({"serial": other_serial} | good)
    elif kind == "oversized":
        payload = _encode(good | {"pad": "x" * (max_payload_bytes + 1)})
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


def floor_step(at: datetime) -> datetime:
    """The quarter hour at or before `at` (aware; a naive time is read as Tashkent time)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=TIMEZONE)
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


class Simulator:
    """Generates the rounds of device messages and publishes them at a rate.

    Generation (`rounds()`) does no I/O; `run()` publishes through a `Publisher`.
    """

    def __init__(
        self,
        devices: Sequence[Device],
        *,
        prefix: str,
        start: datetime,
        faults: Iterable[Fault | str] = (),
        rng_seed: int = 2026,
        max_payload_bytes: int = 65536,
        contract: str = "v2",
    ) -> None:
        if contract not in CONTRACTS:
            raise ValueError(f"unknown device contract {contract!r}; choose from {', '.join(CONTRACTS)}")
        self.contract = contract
        if not devices:
            raise ValueError("no smart meters or sensors to simulate; seed meters first")
        self.devices = list(devices)
        self.prefix = prefix
        self.start = floor_step(start)
        self.faults = parse_faults(faults)
        self.max_payload_bytes = max_payload_bytes
        self.rng = random.Random(rng_seed)  # noqa: S311 - made-up readings, not secrets
        self.targets = self._pick_targets()
        self._garbage_due = GARBAGE_EVERY  # so that even a short run shows garbage at once
        self._garbage_next = 0

    def _pick_targets(self) -> dict[str, str]:
        """The device each single-target fault applies to, by serial."""
        targets = {}

        def pick(fault: Fault, eligible: list[Device]) -> Device | None:
            if fault not in self.faults:
                return None
            if not eligible:
                log.warning("fault %s asked for, but there is no device to apply it to", fault)
                return None
            chosen = self.rng.choice(sorted(eligible, key=lambda d: d.serial))
            targets[fault.value] = chosen.serial
            return chosen

        leaking = pick(
            Fault.leak, [d for d in self.devices if d.kind == MeterKind.cold_water and d.apartment_id]
        )
        if leaking is not None:
            leaking.leak = True
        for fault, kind in (
            (Fault.lukewarm, SensorKind.hot_water_temperature),
            (Fault.cold_flat, SensorKind.indoor_temperature),
        ):
            chosen = pick(fault, [d for d in self.devices if not d.is_meter and d.kind == kind])
            if chosen is not None:
                chosen.faulty = True
        return targets

    def rounds(self) -> Iterator[tuple[datetime, list[Outgoing]]]:
        """(step time, messages) for each 15-minute step from the start, forever."""
        at = self.start
        while True:
            yield at, self.round(at)
            at += STEP

    def round(self, at: datetime) -> list[Outgoing]:
        rng, faults = self.rng, self.faults
        out: list[Outgoing] = []
        for device in self.devices:
            if device.is_meter:
                out.extend(self._meter_messages(device, at))
            else:
                if device.kind == SensorKind.hot_water_temperature:
                    value = hot_water_temperature(at, rng, lukewarm=device.faulty)
                else:
                    value = indoor_temperature(at, rng, cold=device.faulty)
                device.seq = (device.seq + 1) % 2**31
                document = {"ts": local_iso(at), "value": value, "seq": device.seq}
                out.append(
                    Outgoing(
                        device.topic(self.prefix, self.contract),
                        _encode(document),
                        "measurement",
                        device.serial,
                    )
                )
        if Fault.duplicates in faults:
            originals = [m for m in out if m.kind in ("reading", "measurement")]
            out.extend(
                Outgoing(m.topic, m.payload, "duplicate", m.serial)
                for m in originals
                if rng.random() < DUPLICATE_SHARE
            )
        if Fault.garbage in faults:
            self._add_garbage(out, at)
        if Fault.out_of_order in faults:
            rng.shuffle(out)
        return out

    def _meter_messages(self, device: Device, at: datetime) -> list[Outgoing]:
        expected = expected_step_use(device.kind, at, residents=device.residents, area_m2=device.area_m2)
        use = draw_step_use(device.kind, expected, self.rng)
        if device.leak:
            use += LEAK_M3_PER_STEP
        device.value += round(use * 1000)
        device.seq = (device.seq + 1) % 2**31
        entry = {"ts": local_iso(at), "value": device.value / 1000, "seq": device.seq}
        topic = device.topic(self.prefix, self.contract)
        if Fault.out_of_order not in self.faults:
            return [Outgoing(topic, _encode(entry), "reading", device.serial)]
        # A meter that loses its connection keeps its readings and sends them later,
        # after the first fresh one: the broker sees them out of order.
        if device.quiet_rounds > 0:
            device.quiet_rounds -= 1
            device.held.append(entry)
            return []
        messages = [Outgoing(topic, _encode(entry), "reading", device.serial)]
        if device.held:
            batch = {"readings": device.held}
            messages.append(Outgoing(topic, _encode(batch), "batch", device.serial))
            device.held = []
        if self.rng.random() < OFFLINE_SHARE:
            device.quiet_rounds = self.rng.randint(*OFFLINE_ROUNDS)
        return messages

    def _add_garbage(self, out: list[Outgoing], at: datetime) -> None:
        meters = [d for d in self.devices if d.is_meter]
        if not meters:
            return
        self._garbage_due += len(out)
        while self._garbage_due >= GARBAGE_EVERY:
            self._garbage_due -= GARBAGE_EVERY
            kind = GARBAGE_KINDS[self._garbage_next % len(GARBAGE_KINDS)]
            self._garbage_next += 1
            device = self.rng.choice(meters)
            others = [d.serial for d in self.devices if d.serial != device.serial]
            other = self.rng.choice(others) if others else f"{device.serial}-X"
            message = garbage_message(
                kind,
                device,
                other,
                at,
                prefix=self.prefix,
                max_payload_bytes=self.max_payload_bytes,
                contract=self.contract,
            )
            out.insert(self.rng.randint(0, len(out)), message)

    def run(
        self,
        publisher: "Publisher",
        *,
        rate: float,
        seconds: float | None = None,
        count: int | None = None,
        stop: threading.Event | None = None,
        drain_timeout: float = 30.0,
        now: Callable[[], datetime] = utcnow,
    ) -> "SimulationSummary":
        """Publishes rounds until `count` messages, `seconds` of wall time, or `stop` is set."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        stop = stop or threading.Event()
        bucket = TokenBucket(rate)
        began = time.monotonic()
        deadline = began + seconds if seconds is not None else None
        sent: Counter[str] = Counter()
        garbage: Counter[str] = Counter()
        rounds = 0
        first_step = last_step = None
        delayed = 0

        def time_left() -> float | None:
            return None if deadline is None else deadline - time.monotonic()

        def over() -> bool:
            left = time_left()
            return (
                stop.is_set()
                or (left is not None and left <= 0)
                or (count is not None and sum(sent.values()) >= count)
            )

        for at, messages in self.rounds():
            if over():
                break
            wait = (at - now()).total_seconds()
            if wait > 0:  # caught up with the clock: the next quarter hour is not here yet
                left = time_left()
                log.info("caught up with the clock; next readings at %s", local_iso(at))
                if stop.wait(wait if left is None else min(wait, max(left, 0))) or over():
                    break
            rounds += 1
            first_step = first_step or at
            last_step = at
            for message in messages:
                if over():
                    break
                pause = bucket.take()
                if pause > 0 and stop.wait(pause):
                    break
                if not publisher.publish(message.topic, message.payload, stop):
                    break
                sent[message.kind] += 1
                if message.kind == "garbage":
                    garbage[message.label] += 1
                elif message.kind == "batch":
                    delayed += message.payload.count(b'"ts"')
        publisher.wait_acknowledged(drain_timeout)
        elapsed = time.monotonic() - began
        return SimulationSummary(
            published=sum(sent.values()),
            acknowledged=publisher.acknowledged,
            refused=publisher.refused,
            dropped=publisher.dropped,
            readings=sent["reading"],
            measurements=sent["measurement"],
            batches=sent["batch"],
            delayed_readings=delayed,
            duplicates=sent["duplicate"],
            garbage=dict(garbage),
            rounds=rounds,
            first_step=first_step,
            last_step=last_step,
            seconds=elapsed,
            meters=sum(1 for d in self.devices if d.is_meter),
            sensors=sum(1 for d in self.devices if not d.is_meter),
            targets=dict(self.targets),
            backoffs=publisher.backoffs,
        )


@dataclass(frozen=True)
class SimulationSummary:
    published: int
    acknowledged: int  # accepted for delivery (MQTT 3.1.1: every PUBACK, it cannot say more)
    refused: int  # PUBACK with a failure reason (MQTT 5), e.g. not authorised
    readings: int
    measurements: int
    batches: int
    delayed_readings: int
    duplicates: int
    garbage: dict[str, int]
    rounds: int
    first_step: datetime | None
    last_step: datetime | None
    seconds: float
    meters: int
    sensors: int
    targets: dict[str, str]
    backoffs: int = 0
    dropped: int = 0  # MQTT 5 PUBACK 0x10 "no matching subscribers": the broker threw it away

    @property
    def unacknowledged(self) -> int:
        return self.published - self.acknowledged - self.refused - self.dropped

    def __str__(self) -> str:
        rate = self.published / self.seconds if self.seconds > 0 else 0.0
        span = ""
        if self.first_step and self.last_step:
            span = f", simulated {local_iso(self.first_step)} .. {local_iso(self.last_step)}"
        parts = [
            f"Published {self.published:,} messages ({self.acknowledged:,} acknowledged"
            + (f", {self.dropped:,} DROPPED: no subscriber" if self.dropped else "")
            + (f", {self.refused:,} refused" if self.refused else "")
            + (f", {self.unacknowledged:,} unacknowledged" if self.unacknowledged else "")
            + f") in {self.seconds:.1f} s ({rate:,.0f}/s) from {self.meters:,} meters and "
            f"{self.sensors:,} sensors, {self.rounds:,} rounds{span}"
        ]
        if self.duplicates:
            parts.append(f"{self.duplicates:,} duplicates")
        if self.batches:
            parts.append(f"{self.batches:,} late batches ({self.delayed_readings:,} readings)")
        if self.garbage:
            parts.append("garbage " + ", ".join(f"{k} {v}" for k, v in sorted(self.garbage.items())))
        for fault, serial in sorted(self.targets.items()):
            parts.append(f"{fault}: {serial}")
        if self.backoffs:
            parts.append(f"{self.backoffs:,} waits on a full send queue")
        return "; ".join(parts)


# Publishing.


class TokenBucket:
    """Paces to `rate` per second with bursts of up to `burst` (default: 50 ms worth)."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 20)
        self.tokens = self.capacity
        self.clock = clock
        self.last = clock()

    def take(self) -> float:
        """Takes one token; returns how long to wait before sending (0 when one was there).

        Short debts are carried rather than slept, so high rates are not limited by the
        resolution of sleep.
        """
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= 1
        if self.tokens >= 0:
            return 0.0
        wait = -self.tokens / self.rate
        return wait if wait >= 0.002 else 0.0


class PublisherError(RuntimeError):
    """The broker cannot be reached or refused the connection."""


NO_MATCHING_SUBSCRIBERS = 0x10


class Publisher:
    """A paho 2 client that publishes at QoS 1, counting what the broker accepted for delivery.

    MQTT 5 brokers say what became of each message: a PUBACK reason code of 0x80 or more
    is a refusal (e.g. not authorised), 0x10 "no matching subscribers" means the broker
    accepted the message and threw it away (nobody subscribed: with Mosquitto, e.g. right
    after a restart that lost a shared subscription). Only the rest counts as acknowledged.
    An MQTT 3.1.1 broker answers a plain PUBACK in all these cases, so at 3.1.1 a drop
    cannot be seen by the publisher.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        protocol: int = 5,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        max_inflight: int = 20,
        max_queued: int = 10_000,
    ) -> None:
        if protocol not in (4, 5):
            raise ValueError("protocol must be 5 (MQTT 5) or 4 (MQTT 3.1.1)")
        self.host, self.port, self.protocol = host, port, protocol
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"housing-sim-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311,
        )
        self._credentials = (username, password) if username else None
        if self._credentials:
            self.client.username_pw_set(*self._credentials)
        # A small inflight window: paho rescans its queue on every PUBACK, so bigger windows
        # are slower (paho 2.2 against mosquitto: 8.8k msg/s with 20, 4.2k with 1000), and
        # MQTT 5 forbids more than the broker's Receive Maximum (connect() lowers it to
        # that). The send queue behind it is bounded, below paho's 65,535 message ids:
        # publish() answers MQTT_ERR_QUEUE_SIZE when it is full, and we wait for room.
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.client.max_queued_messages_set(max_queued)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._lock = threading.Condition()
        self._connected = threading.Event()
        self._refusal: str | None = None
        self.published = 0
        self.acknowledged = 0
        self.refused = 0
        self.dropped = 0
        self.backoffs = 0

    # paho's network thread: never let an exception out (it would kill the loop silently).

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                self._refusal = str(reason_code)
                log.error("broker refused the simulator: %s", reason_code)
            self._connected.set()
        except Exception:
            log.exception("on_connect failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.warning("simulator disconnected (%s); paho reconnects and resends", reason_code)
        except Exception:
            log.exception("on_disconnect failed")

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        try:
            with self._lock:
                if reason_code.is_failure:
                    self.refused += 1
                elif reason_code.value == NO_MATCHING_SUBSCRIBERS:
                    self.dropped += 1
                else:
                    self.acknowledged += 1
                self._lock.notify_all()
        except Exception:
            log.exception("on_publish failed")

    def connect(self, timeout: float = 10.0) -> None:
        inflight = self.max_inflight
        if self.protocol == 5:
            inflight = min(inflight, self._receive_maximum(timeout))
        self.client.max_inflight_messages_set(inflight)
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublisherError(f"cannot reach the MQTT broker at {self.host}:{self.port}: {exc}") from exc
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise PublisherError(
                f"the MQTT broker at {self.host}:{self.port} did not answer in {timeout:.0f} s"
            )
        if self._refusal is not None:
            self.close()
            hint = " (an MQTT 3.1.1 broker such as the embedded amqtt needs protocol 4)"
            hint = hint if "protocol" in self._refusal.lower() else ""
            raise PublisherError(f"the MQTT broker at {self.host}:{self.port} refused: {self._refusal}{hint}")

    def _receive_maximum(self, timeout: float) -> int:
        """The broker's MQTT 5 Receive Maximum, read from a short probe connection's CONNACK."""
        answered = threading.Event()
        found = [65535]  # the MQTT 5 default when the broker does not say

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            try:
                found[0] = getattr(properties, "ReceiveMaximum", 65535) if properties else 65535
            finally:
                answered.set()

        probe = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"housing-sim-probe-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if self._credentials:
            probe.username_pw_set(*self._credentials)
        probe.on_connect = on_connect
        try:
            probe.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublisherError(f"cannot reach the MQTT broker at {self.host}:{self.port}: {exc}") from exc
        probe.loop_start()
        try:
            if not answered.wait(timeout):
                raise PublisherError(
                    f"the MQTT broker at {self.host}:{self.port} did not answer an MQTT 5 CONNECT "
                    f"in {timeout:.0f} s (an MQTT 3.1.1 broker such as the embedded amqtt needs protocol 4)"
                )
        finally:
            probe.disconnect()
            probe.loop_stop()
        return max(1, int(found[0]))

    def publish(self, topic: str, payload: bytes, stop: threading.Event | None = None) -> bool:
        """Hands one QoS 1 message to paho; False when `stop` was set while the queue was full."""
        while True:
            info = self.client.publish(topic, payload, qos=1)
            # NO_CONN: paho keeps a QoS 1 message and sends it after reconnecting.
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                with self._lock:
                    self.published += 1
                return True
            if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                raise PublisherError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
            # The send queue is full: wait until the broker's acknowledgements made room.
            self.backoffs += 1
            room = self.max_queued * 9 // 10
            with self._lock:
                while self.published - self.acknowledged - self.refused - self.dropped > room:
                    if stop is not None and stop.is_set():
                        return False
                    self._lock.wait(0.1)

    def wait_acknowledged(self, timeout: float) -> bool:
        """Waits until the broker has answered every message published; True when it has."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.acknowledged + self.refused + self.dropped < self.published:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# Loading the devices and the entry point.


def load_devices(engine: Engine) -> list[Device]:
    """Smart meters in service (with their latest reading) and sensors, ordered by serial."""
    latest = (
        select(Reading.meter_id, func.max(Reading.taken_at).label("taken_at"))
        .group_by(Reading.meter_id)
        .subquery()
    )
    last_reading = (
        select(Reading.meter_id, Reading.taken_at, Reading.value, Reading.seq)
        .join(latest, and_(Reading.meter_id == latest.c.meter_id, Reading.taken_at == latest.c.taken_at))
        .subquery()
    )
    meters = (
        select(
            Meter.serial,
            Meter.kind,
            Meter.apartment_id,
            Meter.building_id,
            Meter.installed_on,
            Meter.initial_value,
            Apartment.registered_residents,
            Apartment.area_m2,
            Building.total_area_m2,
            last_reading.c.taken_at,
            last_reading.c.value,
            last_reading.c.seq,
        )
        .join(Building, Building.id == Meter.building_id)
        .outerjoin(Apartment, Apartment.id == Meter.apartment_id)
        .outerjoin(last_reading, last_reading.c.meter_id == Meter.id)
        .where(Meter.smart.is_(True), Meter.removed_on.is_(None))
        .order_by(Meter.serial)
    )
    sensors = (
        select(Sensor.serial, Sensor.kind, Sensor.apartment_id, Sensor.building_id)
        .where(Sensor.removed_on.is_(None))
        .order_by(Sensor.serial)
    )
    today = utcnow().astimezone(TIMEZONE).date()
    devices = []
    with engine.connect() as connection:
        for row in connection.execute(meters):
            if row.apartment_id is not None:
                residents, area = row.registered_residents or 0, float(row.area_m2 or 50)
            else:
                residents, area = 0, float(row.total_area_m2 or DEFAULT_BUILDING_AREA_M2)
            if row.value is not None:
                value = int(Decimal(row.value).scaleb(3))
            else:  # never read: what the register would show after its years in service
                days = max(0, (today - row.installed_on).days)
                estimate = mean_daily_use(row.kind, residents=residents, area_m2=area) * days
                value = int(Decimal(row.initial_value).scaleb(3)) + round(estimate * 1000)
            taken_at = row.taken_at
            if taken_at is not None and taken_at.tzinfo is None:  # SQLite through an aggregate
                taken_at = taken_at.replace(tzinfo=UTC)
            devices.append(
                Device(
                    serial=row.serial,
                    kind=str(row.kind),
                    is_meter=True,
                    residents=residents,
                    area_m2=area,
                    apartment_id=row.apartment_id,
                    building_id=row.building_id,
                    value=value,
                    seq=row.seq or 0,
                    last_at=taken_at,
                )
            )
        for row in connection.execute(sensors):
            devices.append(
                Device(
                    serial=row.serial,
                    kind=str(row.kind),
                    is_meter=False,
                    apartment_id=row.apartment_id,
                    building_id=row.building_id,
                )
            )
    return devices


def default_start(devices: Sequence[Device], now: datetime) -> datetime:
    """The quarter hour after the newest stored reading, but no more than CATCH_UP behind now."""
    newest = max((d.last_at for d in devices if d.last_at is not None), default=None)
    earliest = floor_step(now) - CATCH_UP
    if newest is None:
        return earliest
    return min(max(floor_step(newest) + STEP, earliest), floor_step(now))


def run_simulator(
    settings: Settings,
    *,
    rate: float,
    seconds: float | None = None,
    count: int | None = None,
    faults: Iterable[Fault | str] = (),
    start: datetime | None = None,
    protocol: int | None = None,
    host: str | None = None,
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
    rng_seed: int = 2026,
    engine: Engine | None = None,
    stop: threading.Event | None = None,
    contract: str = "v2",
) -> SimulationSummary:
    """`housing simulate`: loads the seeded devices and publishes until done or SIGINT/SIGTERM.

    Broker, port and protocol default to the MQTT settings (127.0.0.1 when no host is set);
    credentials are the simulator's own, not the ingest worker's.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    if count is not None and count < 1:
        raise ValueError("count must be at least 1")
    if seconds is not None and seconds <= 0:
        raise ValueError("seconds must be positive")
    fault_set = parse_faults(faults)
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        devices = load_devices(engine)
    finally:
        if own_engine:
            engine.dispose()
    if not devices:
        raise ValueError("no smart meters or sensors to simulate; seed meters first")
    simulator = Simulator(
        devices,
        prefix=settings.mqtt.topic_root,
        contract=contract,
        start=start if start is not None else default_start(devices, utcnow()),
        faults=fault_set,
        rng_seed=rng_seed,
        max_payload_bytes=settings.mqtt.max_payload_bytes,
    )
    publisher = Publisher(
        host=host or settings.mqtt.host or "127.0.0.1",
        port=port or settings.mqtt.port,
        protocol=protocol or settings.mqtt.protocol,
        username=username,
        password=password,
    )
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    try:
        publisher.connect()
        log.info(
            "simulating %d devices from %s at %s msg/s%s",
            len(devices),
            local_iso(simulator.start),
            rate,
            f" with faults {sorted(f.value for f in fault_set)}" if fault_set else "",
        )
        return simulator.run(publisher, rate=rate, seconds=seconds, count=count, stop=stop)
    finally:
        publisher.close()
        restore()


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop` (main thread only); returns what restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
