"""Helpers for tests against the real Mosquitto on 127.0.0.1:1883: publish, wait, run workers."""

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, insert, select
from sqlmodel import Session

from housing.settings import MqttSettings
from sensors.ingest.payloads import device_topic
from sensors.ingest.worker import SLOTS, IngestWorker
from sensors.models import Meter, Reading
from tests.conftest import TEST_SECRET
from tests.factories.core import make_apartment, make_building

BROKER = ("127.0.0.1", 1883)


def mqtt_test_config(tmp_path: Path, **overrides) -> MqttSettings:
    """Per-test topics, client ids and share group, so tests never read each other's messages."""
    tag = uuid.uuid4().hex[:10]
    fields = {
        "host": BROKER[0],
        "port": BROKER[1],
        "client_id": f"test-ingest-{tag}",
        "session_prefix": f"test-ingest-{tag}",
        "topic_root": f"test/{tag}",
        "session_expiry_s": 300,
        "batch_wait_ms": 50,
        "rebalance_s": 0.5,
        "status_file": tmp_path / f"status-{tag}.json",
    }
    return MqttSettings(**(fields | overrides))


def make_meters(session: Session, count: int, *, serials: list[str] | None = None) -> list[str]:
    building = make_building(session)
    apartment = make_apartment(session, building)
    serials = serials or [f"T{uuid.uuid4().hex[:8]}-{n}" for n in range(count)]
    session.execute(
        insert(Meter),
        [
            {
                "serial": serial,
                "kind": "cold_water",
                "unit": "m3",
                "building_id": building.id,
                "apartment_id": apartment.id,
                "installed_on": date(2024, 1, 1),
                "initial_value": 0,
                "smart": True,
            }
            for serial in serials
        ],
    )
    session.commit()
    return serials


def readings_payloads(
    serials: list[str], per_meter: int, start: datetime | None = None
) -> list[tuple[str, bytes]]:
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    out = []
    for step in range(per_meter):
        ts = (start + timedelta(minutes=15 * step)).isoformat()
        for n, serial in enumerate(serials):
            out.append((serial, json.dumps({"ts": ts, "value": 100 + step + n / 1000, "seq": step}).encode()))
    return out


def publish(
    root: str,
    messages: list[tuple[str, bytes]],
    *,
    topic_for: Callable[[str], str] | None = None,
    contract: str = "v2",
) -> None:
    """Publishes at QoS 1 (meter topics of `contract`) and returns once the broker acknowledged each."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(1000)
    client.connect(*BROKER)
    client.loop_start()
    try:
        infos = []
        for serial, payload in messages:
            topic = topic_for(serial) if topic_for else device_topic(root, "meters", serial, contract)
            info = client.publish(topic, payload, qos=1)
            while info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                time.sleep(0.01)
                info = client.publish(topic, payload, qos=1)
            assert info.rc == mqtt.MQTT_ERR_SUCCESS, info.rc
            infos.append(info)
        for info in infos:
            info.wait_for_publish(timeout=30)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def stored_count(engine: Engine, serials: list[str]) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(Reading).join(Meter).where(Meter.serial.in_(serials))
        ).scalar_one()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def worker_thread(engine: Engine, config: MqttSettings) -> Iterator[IngestWorker]:
    worker = IngestWorker(engine, config)
    thread = threading.Thread(target=worker.run, args=(config.host, config.port), daemon=True)
    thread.start()
    try:
        assert worker.subscribed.wait(10), "the worker did not subscribe"
        yield worker
    finally:
        worker.stop()
        thread.join(30)
        forget_sessions(config)


def forget_session(client_id: str, broker: tuple[str, int] = BROKER) -> None:
    """Connects once with a clean start so the broker drops the test's persistent session."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect(*broker, clean_start=True)
    client.disconnect()


def forget_sessions(config: MqttSettings) -> None:
    """Drops every partition session of the test's ingest workers."""
    for slot in SLOTS:
        forget_session(f"{config.session_prefix}-{slot}", (config.host, config.port))


def worker_process(database_url: str, config: MqttSettings) -> subprocess.Popen:
    config.status_path.unlink(missing_ok=True)  # so readiness is this process's, not a predecessor's
    env = os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
    }
    for name, value in config.model_dump().items():
        if value is not None:
            env[f"HOUSING_MQTT__{name.upper()}"] = str(value)
    return subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "ingest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_status(config: MqttSettings) -> dict:
    """The worker's status file ({} while there is none yet; it is replaced atomically)."""
    try:
        return json.loads(config.status_path.read_text())
    except (OSError, ValueError):
        return {}


def sentinels(serials: list[str]) -> list[tuple[str, bytes]]:
    """One reading per meter, newer than any `readings_payloads` makes (they end a day ago).

    Published after the messages of a test, each travels behind them through its meter's
    partition session, which the broker delivers in order: once every sentinel is stored,
    every earlier message has been processed, so "nothing more arrives" is proven by an
    event, not by waiting a while.
    """
    ts = (datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)).isoformat()
    return [(serial, json.dumps({"ts": ts, "value": 999999, "seq": 999999}).encode()) for serial in serials]


def wait_subscribed(config: MqttSettings, timeout: float = 20) -> None:
    """A worker process is ready once its status file says it is connected."""

    def subscribed() -> bool:
        try:
            return json.loads(config.status_path.read_text()).get("subscribed", False)
        except (OSError, ValueError):
            return False

    wait_until(subscribed, timeout, "the worker to subscribe")


NO_MATCHING_SUBSCRIBERS = 0x10


class DevicePublisher:
    """Publishes like a real device: QoS 1, and a reading counts only once the broker accepted it.

    Accepted means a PUBACK with a reason code below 0x80 other than 0x10 ("no matching
    subscribers": MQTT 5 says the broker dropped it). Anything else (refused, 0x10, no
    PUBACK within `ack_timeout` because the broker is down) is sent again after a pause,
    as a device keeps a reading until it is acknowledged. An MQTT 3.1.1 broker answers a
    plain PUBACK in every case, so at 3.1.1 a drop cannot be seen: only the row count can.
    """

    def __init__(self, port: int, protocol: int, *, window: int = 50, pause: float = 0.05) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-device-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311,
        )
        self.client.max_inflight_messages_set(window)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect
        self.port, self.window, self.pause = port, window, pause
        self.reasons: dict[int, int] = {}
        self.accepted = 0
        self.dropped = 0  # 0x10: no matching subscribers
        self.refused = 0  # reason >= 0x80
        self.unanswered = 0  # no PUBACK in time (broker down), resent
        self.disconnects = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.reasons[mid] = reason_code.value

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.disconnects.set()

    def run(
        self, messages: list[tuple[str, bytes]], *, ack_timeout: float = 3, deadline_s: float = 90
    ) -> None:
        """Sends every (topic, payload) until accepted, `window` at a time; returns when all were."""
        deadline = time.monotonic() + deadline_s
        try:
            self.client.connect_async("127.0.0.1", self.port, keepalive=10)
            self.client.loop_start()
            pending = list(messages)
            while pending:
                assert time.monotonic() < deadline, f"{len(pending)} readings never accepted by the broker"
                if not self.client.is_connected():  # a device waits for its connection
                    time.sleep(0.05)
                    continue
                window, pending = pending[: self.window], pending[self.window :]
                sent = []
                for topic, payload in window:
                    info = self.client.publish(topic, payload, qos=1)
                    sent.append(((topic, payload), info))
                again = []
                for message, info in sent:
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:  # not connected any more, or queue full
                        self.unanswered += 1
                        again.append(message)
                        continue
                    with contextlib.suppress(RuntimeError, ValueError):
                        info.wait_for_publish(ack_timeout)
                    if not info.is_published():
                        self.unanswered += 1
                        again.append(message)
                        continue
                    reason = self.reasons.pop(info.mid, 0)
                    if reason == NO_MATCHING_SUBSCRIBERS:
                        self.dropped += 1
                        again.append(message)
                    elif reason >= 0x80:
                        self.refused += 1
                        again.append(message)
                    else:
                        self.accepted += 1
                if again:
                    pending = again + pending
                time.sleep(self.pause)  # pacing, as devices publish over time
        except BaseException as exc:
            self.error = exc
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self.done.set()

    def start(self, messages: list[tuple[str, bytes]], **kw) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(messages,), kwargs=kw, daemon=True)
        thread.start()
        return thread

    def wait(self, timeout: float = 120) -> None:
        assert self.done.wait(timeout), "the device publisher did not finish"
        if self.error is not None:
            raise self.error
