"""`housing ingest`: the MQTT consumer that turns device messages into stored readings.

One paho client per slot (a v2 partition or the v1 topics) whose lease this process holds,
persistent sessions, acknowledgement only after the batch is committed, and a rebalance
every few seconds so that starting another process splits the load. How and why:
docs/ingest.md. Over 500 lines on purpose: the clients' callbacks, the open batch and the
rebalance share one process's state and its locks; split apart they would pass it around.
"""

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from housing.settings import MqttSettings
from sensors.ingest.leases import LeaseError, Leases, make_leases
from sensors.ingest.payloads import PARTITIONS
from sensors.ingest.store import BatchResult, Message, ReadingStore

log = logging.getLogger("housing.ingest")

SLOTS: tuple[str, ...] = (*(f"p{n:02d}" for n in range(PARTITIONS)), "v1")


def slot_topics(root: str, slot: str) -> list[str]:
    """The plain subscriptions of one slot's session."""
    if slot == "v1":
        return [f"{root}/v1/meters/+/readings", f"{root}/v1/sensors/+/measurements"]
    partition = slot.removeprefix("p")
    return [f"{root}/v2/{partition}/meters/+/readings", f"{root}/v2/{partition}/sensors/+/measurements"]


def fair_share(slots: int, members: list[str], me: str) -> int:
    """Slots this member should hold: an even split, the remainder to the first members in order."""
    count = max(len(members), 1)
    rank = members.index(me) if me in members else count - 1
    return slots // count + (1 if rank < slots % count else 0)


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter("ingest_messages_received", "MQTT messages received", registry=self.registry)
        self.stored = Counter(
            "ingest_values_stored", "Readings and measurements stored", registry=self.registry
        )
        self.duplicates = Counter(
            "ingest_values_duplicate", "Values already stored (redelivery, resends)", registry=self.registry
        )
        self.rejected = Counter(
            "ingest_messages_rejected", "Messages kept as rejected", ["kind"], registry=self.registry
        )
        self.db_errors = Counter(
            "ingest_database_errors", "Failed batch writes and lease checks, retried", registry=self.registry
        )
        self.batch_seconds = Histogram(
            "ingest_batch_seconds",
            "Time to write and acknowledge one batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.waiting = Gauge(
            "ingest_messages_waiting", "Received, not yet committed and acknowledged", registry=self.registry
        )
        self.oldest_waiting = Gauge(
            "ingest_oldest_waiting_seconds",
            "Age of the oldest message received and not yet committed (0 when none waits)",
            registry=self.registry,
        )
        self.since_commit = Gauge(
            "ingest_seconds_since_commit",
            "Seconds since the last committed batch (since the start before the first)",
            registry=self.registry,
        )
        self.connected = Gauge(
            "ingest_broker_connected", "Partition sessions connected to the broker", registry=self.registry
        )
        self.slots = Gauge(
            "ingest_partitions_held", "Partition sessions this process serves", registry=self.registry
        )
        self._totals = {"received": 0, "stored": 0, "duplicates": 0, "rejected": 0, "database_errors": 0}
        self._last_batch_s = 0.0

    def count_batch(self, result: BatchResult, seconds: float) -> None:
        self.stored.inc(result.stored)
        self.duplicates.inc(result.duplicates)
        for kind, n in result.rejected.items():
            self.rejected.labels(kind).inc(n)
        self.batch_seconds.observe(seconds)
        self._totals["stored"] += result.stored
        self._totals["duplicates"] += result.duplicates
        self._totals["rejected"] += sum(result.rejected.values())
        self._last_batch_s = seconds

    def count_received(self) -> None:
        self.received.inc()
        self._totals["received"] += 1

    def count_db_error(self) -> None:
        self.db_errors.inc()
        self._totals["database_errors"] += 1

    def snapshot(self) -> dict:
        return self._totals | {"last_batch_seconds": round(self._last_batch_s, 4)}


class SlotClient:
    """One slot's session: a paho client with the slot's stable client id and plain subscriptions."""

    def __init__(self, worker: "IngestWorker", slot: str) -> None:
        self.worker = worker
        self.slot = slot
        self.client_id = f"{worker.config.session_prefix}-{slot}"
        self.subscribed = threading.Event()
        # Packet ids only mean something on the connection they came with: a message is
        # acknowledged only on that connection. After a reconnect the broker sends it again.
        self.generation = 0
        config = worker.config
        self.v5 = config.protocol == 5
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            clean_session=None if self.v5 else False,
            manual_ack=True,
        )
        if config.username:
            password = config.password.get_secret_value() if config.password else None
            self.client.username_pw_set(config.username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # paho's network thread: any exception here would kill it silently.

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.error("%s: broker refused the connection: %s", self.client_id, reason_code)
                return
            self.generation += 1
            log.info("%s connected (session present: %s)", self.client_id, flags.session_present)
            topics = slot_topics(self.worker.config.topic_root, self.slot)
            if self.v5:
                client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics])
            else:
                client.subscribe([(t, 1) for t in topics])
        except Exception:
            log.exception("on_connect failed")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        try:
            failures = [code for code in reason_codes if code.is_failure]
            if failures:
                log.error("%s: subscription refused: %s", self.client_id, failures)
            else:
                self.subscribed.set()
                self.worker.update_ready()
        except Exception:
            log.exception("on_subscribe failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if not self.worker.stopping.is_set() and self.slot in self.worker.slots:
                log.warning("%s disconnected (%s); paho reconnects with backoff", self.client_id, reason_code)
        except Exception:
            log.exception("on_disconnect failed")

    def _on_message(self, client, userdata, message) -> None:
        try:
            self.worker.receive(
                (self, self.generation),
                Message(message.mid, message.qos, message.topic, message.payload, datetime.now(UTC)),
            )
        except Exception:
            log.exception("on_message failed")

    # The main thread.

    def start(self, host: str, port: int) -> None:
        """Connects in the background with a persistent session; paho retries until the broker answers."""
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.worker.config.session_expiry_s
            properties.ReceiveMaximum = self.worker.config.receive_maximum
            self.client.connect_async(host, port, keepalive=30, clean_start=False, properties=properties)
        else:
            self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, generation: int, message: Message) -> None:
        if generation == self.generation:
            self.client.ack(message.mid, message.qos)

    def is_connected(self) -> bool:
        return self.client.is_connected()


class IngestWorker:
    def __init__(
        self,
        engine: Engine,
        config: MqttSettings,
        *,
        metrics: IngestMetrics | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or IngestMetrics()
        self.store = ReadingStore(
            engine,
            prefix=config.topic_root,
            max_payload_bytes=config.max_payload_bytes,
            future_tolerance=timedelta(seconds=config.future_tolerance_s),
        )
        self.leases = leases or make_leases(
            engine, session_prefix=config.session_prefix, name=config.client_id
        )
        self.slots: dict[str, SlotClient] = {}
        self.target: int | None = None
        self.stopping = threading.Event()
        self.subscribed = threading.Event()  # serving its fair share, every held slot subscribed
        self._inbox: deque[tuple[tuple[SlotClient, int], Message]] = deque()
        self._in_hand: list[tuple[tuple[SlotClient, int], Message]] = []
        self._ready = threading.Condition()
        self._joined = False
        self.started = time.time()
        self.last_commit: float | None = None  # wall clock of the last committed batch
        self.last_db_error: float | None = None
        self.last_db_error_text = ""
        self.metrics.waiting.set_function(self.waiting)
        self.metrics.oldest_waiting.set_function(self.oldest_waiting_s)
        self.metrics.since_commit.set_function(self.seconds_since_commit)
        self.metrics.connected.set_function(lambda: sum(c.is_connected() for c in list(self.slots.values())))
        self.metrics.slots.set_function(lambda: len(self.slots))

    # -- what the paho threads call

    def receive(self, source: tuple[SlotClient, int], message: Message) -> None:
        with self._ready:
            self._inbox.append((source, message))
            if len(self._inbox) == 1 or len(self._inbox) >= self.config.batch_size:
                self._ready.notify()
        self.metrics.count_received()

    def update_ready(self) -> None:
        held = list(self.slots.values())
        ready = (
            self._joined
            and self.target is not None
            and len(held) >= self.target
            and all(c.subscribed.is_set() for c in held)
        )
        if ready:
            self.subscribed.set()
        else:
            self.subscribed.clear()

    # -- live figures (metrics and status file read these at any moment)

    def waiting(self) -> int:
        return len(self._inbox) + len(self._in_hand)

    def oldest_waiting_s(self) -> float:
        oldest = None
        with contextlib.suppress(IndexError):
            oldest = (self._in_hand or self._inbox)[0][1].received_at
        return max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest else 0.0

    def seconds_since_commit(self) -> float:
        return max(0.0, time.time() - (self.last_commit or self.started))

    # -- the main thread

    def run(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        status = threading.Thread(target=self._status_loop, name="ingest-status", daemon=True)
        status.start()
        next_rebalance = 0.0
        try:
            while not self.stopping.is_set():
                if time.monotonic() >= next_rebalance:
                    self._rebalance()
                    next_rebalance = time.monotonic() + self.config.rebalance_s
                batch = self._next_batch(timeout=min(1.0, self.config.rebalance_s))
                if batch:
                    self._store_and_ack(batch)
            # Stopping: whatever already arrived is written and acknowledged before leaving.
            self._flush(give_up_after=10.0)
        finally:
            for slot in list(self.slots):
                self._drop(slot)
            self.leases.close()
            self._joined = False
            self.write_status()
            log.info("stopped: %s", self.metrics.snapshot())

    def _rebalance(self) -> None:
        """Holds the fair share of the slots: releases what is above it, claims free ones below it."""
        try:
            if self._joined and not self.leases.alive():
                # The lease connection broke: its locks are gone, another process may take
                # these slots now. Stop serving them; what was not acknowledged is redelivered.
                self._note_db_error("lost the lease connection")
                log.error("lost the database connection that holds the partition leases; releasing all")
                for slot in list(self.slots):
                    self._drop(slot, flush=False)
                self._joined = False
            if not self._joined:
                self.leases.join()
                self._joined = True
                log.info("ingest process %s joined", self.config.client_id)
            members = self.leases.members()
            self.target = fair_share(len(SLOTS), members, self.leases.me())
            if len(self.slots) > self.target:
                for slot in sorted(self.slots, reverse=True)[: len(self.slots) - self.target]:
                    log.info("%d ingest processes: handing over %s", len(members), slot)
                    self._drop(slot)
            elif len(self.slots) < self.target:
                start = members.index(self.leases.me()) * len(SLOTS) // max(len(members), 1)
                for offset in range(len(SLOTS)):
                    if len(self.slots) >= self.target:
                        break
                    index = (start + offset) % len(SLOTS)
                    slot = SLOTS[index]
                    if slot not in self.slots and self.leases.try_claim(index):
                        client = SlotClient(self, slot)
                        self.slots[slot] = client
                        client.start(self.host, self.port)
                        log.info("serving %s", client.client_id)
        except LeaseError as exc:
            log.error("%s; waiting for it to stop", exc)
        except (OperationalError, InterfaceError) as exc:
            self._note_db_error(str(exc.orig or exc).strip())
            log.warning("database unavailable for the partition leases (%s)", str(exc.orig or exc).strip())
            with contextlib.suppress(Exception):
                self.leases.close()
            if self._joined:
                for slot in list(self.slots):
                    self._drop(slot, flush=False)
                self._joined = False
        self.update_ready()

    def _drop(self, slot: str, *, flush: bool = True) -> None:
        """Stops serving a slot: commits and acknowledges what arrived, disconnects, releases the lease."""
        if flush:
            self._flush(give_up_after=10.0)
        client = self.slots.pop(slot)
        client.stop()
        with self._ready:  # arrived after the flush, never acknowledged: the broker redelivers them
            self._inbox = deque(item for item in self._inbox if item[0][0] is not client)
        with contextlib.suppress(Exception):
            self.leases.release(SLOTS.index(slot))
        self.update_ready()

    def _flush(self, give_up_after: float) -> None:
        while batch := self._next_batch(timeout=0):
            if not self._store_and_ack(batch, give_up_after=give_up_after):
                return

    def _next_batch(self, timeout: float) -> list[tuple[tuple[SlotClient, int], Message]]:
        with self._ready:
            if not self._inbox and timeout > 0:
                self._ready.wait(timeout)
            if not self._inbox:
                return []
            deadline = time.monotonic() + self.config.batch_wait_ms / 1000
            while len(self._inbox) < self.config.batch_size and not self.stopping.is_set() and timeout > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._ready.wait(remaining)
            count = min(len(self._inbox), self.config.batch_size)
            batch = [self._inbox.popleft() for _ in range(count)]
            self._in_hand = batch
            return batch

    def _store_and_ack(
        self, batch: list[tuple[tuple[SlotClient, int], Message]], give_up_after: float | None = None
    ) -> bool:
        started = time.monotonic()
        delay = 0.5
        messages = [message for _source, message in batch]
        try:
            while True:
                try:
                    result = self.store.write(messages)
                    break
                except (OperationalError, InterfaceError) as exc:
                    # Nothing is acknowledged, so nothing is lost: retry until the database is back.
                    self._note_db_error(str(exc.orig or exc).strip())
                    waited = time.monotonic() - started
                    if self.stopping.is_set() and (give_up_after is None or waited > give_up_after):
                        log.error(
                            "stopping with %d messages unacknowledged; the broker keeps them", len(batch)
                        )
                        return False
                    log.warning("database unavailable (%s); %d messages held, retry in %.1f s",
                                self.last_db_error_text, len(batch), delay)  # fmt: skip
                    self.stopping.wait(delay)
                    delay = min(delay * 2, 5.0)
            self.last_commit = time.time()
            for (source, generation), message in batch:
                source.ack(generation, message)
            self.metrics.count_batch(result, time.monotonic() - started)
            return True
        finally:
            self._in_hand = []

    def _note_db_error(self, text: str) -> None:
        self.metrics.count_db_error()
        self.last_db_error = time.time()
        self.last_db_error_text = text[:300]

    def _status_loop(self) -> None:
        while not self.stopping.wait(1.0):
            try:
                self.write_status()
            except Exception:
                log.exception("could not write the status file")

    def status(self) -> dict:
        held = list(self.slots.values())
        return self.metrics.snapshot() | {
            "pid": os.getpid(),
            "client_id": self.config.client_id,
            "partitions": sorted(c.slot for c in held),
            "fair_share": self.target,
            "connected": all(c.is_connected() for c in held),
            "subscribed": self.subscribed.is_set(),
            "waiting": self.waiting(),
            "oldest_waiting_s": round(self.oldest_waiting_s(), 3),
            "started_at": self.started,
            "last_commit_at": self.last_commit,
            "last_database_error_at": self.last_db_error,
            "last_database_error": self.last_db_error_text,
            "at": time.time(),
        }

    def write_status(self) -> None:
        path = self.config.status_path
        temporary = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(self.status()))
        temporary.replace(path)  # atomic, so the health check never reads half a file

    def stop(self, *_args: object) -> None:
        self.stopping.set()
        with self._ready:
            self._ready.notify_all()


def ingest_problems(status: dict, *, now: float, max_age: float, stall_after: float) -> list[str]:
    """Why an ingest process is unhealthy, from its status file; empty when it is healthy."""
    problems = []
    age = now - status.get("at", 0)
    if age > max_age:
        problems.append(f"status is {age:.0f}s old (the process is stuck or gone)")
    if not status.get("connected"):
        problems.append("a partition session is not connected to the broker")
    last_commit = status.get("last_commit_at")
    since_commit = now - (last_commit or status.get("started_at") or now)
    if status.get("waiting", 0) > 0 and since_commit > stall_after:
        problems.append(
            f"{status['waiting']} messages wait (oldest {status.get('oldest_waiting_s', 0):.0f}s) and nothing "
            f"was committed for {since_commit:.0f}s"
        )
    error_at = status.get("last_database_error_at")
    if error_at and (last_commit is None or error_at > last_commit):
        problems.append(f"database errors since the last commit: {status.get('last_database_error', '')}")
    return problems


def run_ingest(engine: Engine, config: MqttSettings) -> None:
    """The process entry point: metrics server, signal handling, run until SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not config.host:
        raise SystemExit("HOUSING_MQTT__HOST is not set: name the broker the worker reads from")
    worker = IngestWorker(engine, config)
    if config.metrics_port:
        start_http_server(config.metrics_port, registry=worker.metrics.registry)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run(config.host, config.port)
