"""Rounds of device messages: every smart meter and sensor once per simulated quarter hour.

`Simulator.rounds()` generates them without I/O (the faults applied, see docs/simulator.md);
`Simulator.run()` paces them onto a `Publisher` and never stamps a reading in the future.
"""

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from housing.db import utcnow
from sensors.ingest.payloads import CONTRACTS
from sensors.models import MeterKind, SensorKind
from sensors.simulator.devices import Device
from sensors.simulator.messages import (
    GARBAGE_KINDS,
    Fault,
    Outgoing,
    encode,
    garbage_message,
    local_iso,
    parse_faults,
)
from sensors.simulator.profiles import (
    STEP,
    draw_step_use,
    expected_step_use,
    floor_step,
    hot_water_temperature,
    indoor_temperature,
)
from sensors.simulator.publisher import Publisher, TokenBucket

log = logging.getLogger(__name__)

GARBAGE_EVERY = 50  # one garbage message per this many good ones
DUPLICATE_SHARE = 0.02
OFFLINE_SHARE = 0.01  # chance per round that a meter goes quiet (out_of_order)
OFFLINE_ROUNDS = (1, 4)
LEAK_M3_PER_STEP = 0.006  # 24 litres an hour: a running toilet cistern


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
                        encode(document),
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
            return [Outgoing(topic, encode(entry), "reading", device.serial)]
        # A meter that loses its connection keeps its readings and sends them later,
        # after the first fresh one: the broker sees them out of order.
        if device.quiet_rounds > 0:
            device.quiet_rounds -= 1
            device.held.append(entry)
            return []
        messages = [Outgoing(topic, encode(entry), "reading", device.serial)]
        if device.held:
            batch = {"readings": device.held}
            messages.append(Outgoing(topic, encode(batch), "batch", device.serial))
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
        publisher: Publisher,
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
