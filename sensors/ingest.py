"""`housing ingest`: the MQTT consumer that turns device messages into stored readings.

Nothing is acknowledged before it is committed. paho's network thread only queues
messages; the main thread writes them in batches (size- or time-bounded) and then
acknowledges each one. A crash loses nothing: the broker redelivers what was not
acknowledged, and the primary key drops what was already stored.
"""

import json
import logging
import os
import queue
import signal
import threading
import time
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
from sensors.ingest_store import BatchResult, Message, ReadingStore

log = logging.getLogger("housing.ingest")


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
            "ingest_database_errors", "Failed batch writes, retried", registry=self.registry
        )
        self.batch_seconds = Histogram(
            "ingest_batch_seconds",
            "Time to write and acknowledge one batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.waiting = Gauge("ingest_messages_waiting", "Received, not yet written", registry=self.registry)
        self.connected = Gauge(
            "ingest_broker_connected", "1 while connected to the broker", registry=self.registry
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


class IngestWorker:
    def __init__(self, engine: Engine, config: MqttSettings, *, metrics: IngestMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or IngestMetrics()
        self.store = ReadingStore(
            engine,
            prefix=config.topic_prefix,
            max_payload_bytes=config.max_payload_bytes,
            future_tolerance=timedelta(seconds=config.future_tolerance_s),
        )
        self.inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.subscribed = threading.Event()
        self.client = self._make_client()

    # -- paho side: runs on paho's network thread; any exception there would kill it silently.

    def _make_client(self) -> mqtt.Client:
        v5 = self.config.protocol == 5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if self.config.username:
            password = self.config.password.get_secret_value() if self.config.password else None
            client.username_pw_set(self.config.username, password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def topics(self) -> list[str]:
        prefix = self.config.topic_prefix
        share = f"$share/{self.config.share_group}/" if self.config.share_group else ""
        return [f"{share}{prefix}/meters/+/readings", f"{share}{prefix}/sensors/+/measurements"]

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.error("broker refused the connection: %s", reason_code)
                return
            self.metrics.connected.set(1)
            log.info("connected (session present: %s)", flags.session_present)
            if self.config.protocol == 5:
                client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.topics()])
            else:
                client.subscribe([(t, 1) for t in self.topics()])
        except Exception:
            log.exception("on_connect failed")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        try:
            failures = [code for code in reason_codes if code.is_failure]
            if failures:
                log.error("subscription refused: %s", failures)
            else:
                self.subscribed.set()
        except Exception:
            log.exception("on_subscribe failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            self.metrics.connected.set(0)
            if not self.stopping.is_set():
                log.warning("disconnected (%s); paho reconnects with backoff", reason_code)
        except Exception:
            log.exception("on_disconnect failed")

    def _on_message(self, client, userdata, message) -> None:
        try:
            self.inbox.put(
                Message(message.mid, message.qos, message.topic, message.payload, datetime.now(UTC))
            )
            self.metrics.count_received()
        except Exception:
            log.exception("on_message failed")

    # -- our side: the main thread.

    def connect(self, host: str, port: int) -> None:
        """Connects with a persistent session, retrying with backoff until the broker answers."""
        properties = None
        if self.config.protocol == 5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.config.session_expiry_s
            properties.ReceiveMaximum = self.config.receive_maximum
        delay = 1.0
        while not self.stopping.is_set():
            try:
                if self.config.protocol == 5:
                    self.client.connect(host, port, keepalive=30, clean_start=False, properties=properties)
                else:
                    self.client.connect(host, port, keepalive=30)
                break
            except OSError as exc:
                log.warning("broker %s:%s not reachable (%s); retrying in %.0f s", host, port, exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)
        self.client.loop_start()

    def run(self, host: str, port: int) -> None:
        self.connect(host, port)
        last_status = 0.0
        try:
            while not self.stopping.is_set():
                batch = self._next_batch(timeout=1.0)
                if batch:
                    self._store_and_ack(batch)
                if time.monotonic() - last_status > 2:
                    self.write_status()
                    last_status = time.monotonic()
            # Stopping: whatever already arrived is written and acknowledged before leaving.
            while batch := self._next_batch(timeout=0.2):
                self._store_and_ack(batch, give_up_after=10.0)
        finally:
            self.write_status()
            self.client.disconnect()
            self.client.loop_stop()
            log.info("stopped: %s", self.metrics.snapshot())

    def _next_batch(self, timeout: float) -> list[Message]:
        try:
            first = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.batch_wait_ms / 1000
        while len(batch) < self.config.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get_nowait() if remaining <= 0 else self.inbox.get(timeout=remaining))
            except queue.Empty:
                break
        self.metrics.waiting.set(self.inbox.qsize())
        return batch

    def _store_and_ack(self, batch: list[Message], give_up_after: float | None = None) -> None:
        started = time.monotonic()
        delay = 0.5
        while True:
            try:
                result = self.store.write(batch)
                break
            except (OperationalError, InterfaceError) as exc:
                # Nothing is acknowledged, so nothing is lost: retry until the database is back.
                self.metrics.count_db_error()
                self.write_status()
                waited = time.monotonic() - started
                if self.stopping.is_set() and (give_up_after is None or waited > give_up_after):
                    log.error("stopping with %d messages unacknowledged; the broker keeps them", len(batch))
                    return
                log.warning("database unavailable (%s); %d messages held, retry in %.1f s",
                            str(exc.orig or exc).strip(), len(batch), delay)  # fmt: skip
                self.stopping.wait(delay)
                delay = min(delay * 2, 5.0)
        for message in batch:
            self.client.ack(message.mid, message.qos)
        self.metrics.count_batch(result, time.monotonic() - started)

    def write_status(self) -> None:
        status = self.metrics.snapshot() | {
            "pid": os.getpid(),
            "client_id": self.config.client_id,
            "connected": self.client.is_connected(),
            "subscribed": self.subscribed.is_set(),
            "waiting": self.inbox.qsize(),
            "at": datetime.now(UTC).isoformat(),
        }
        path = self.config.status_file
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(status))
        temporary.replace(path)  # atomic, so the health check never reads half a file

    def stop(self, *_args: object) -> None:
        self.stopping.set()


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
