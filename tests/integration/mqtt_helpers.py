"""Helpers for tests against the real Mosquitto on 127.0.0.1:1883: publish, wait, run workers."""

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
from sensors.ingest import IngestWorker
from sensors.models import Meter, Reading
from tests.conftest import TEST_SECRET
from tests.factories import make_apartment, make_building

BROKER = ("127.0.0.1", 1883)


def mqtt_test_config(tmp_path: Path, **overrides) -> MqttSettings:
    """Per-test topics, client ids and share group, so tests never read each other's messages."""
    tag = uuid.uuid4().hex[:10]
    fields = {
        "host": BROKER[0],
        "port": BROKER[1],
        "client_id": f"test-ingest-{tag}",
        "topic_prefix": f"test/{tag}",
        "share_group": f"ingest-{tag}",
        "session_expiry_s": 300,
        "batch_wait_ms": 50,
        "status_file": tmp_path / f"status-{tag}.json",
    }
    return MqttSettings(**(fields | overrides))


def make_meters(session: Session, count: int) -> list[str]:
    building = make_building(session)
    apartment = make_apartment(session, building)
    serials = [f"T{uuid.uuid4().hex[:8]}-{n}" for n in range(count)]
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
    prefix: str, messages: list[tuple[str, bytes]], *, topic_for: Callable[[str], str] | None = None
) -> None:
    """Publishes at QoS 1 and returns once the broker has acknowledged every message."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(1000)
    client.connect(*BROKER)
    client.loop_start()
    try:
        infos = []
        for serial, payload in messages:
            topic = topic_for(serial) if topic_for else f"{prefix}/meters/{serial}/readings"
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
        forget_session(config.client_id)


def forget_session(client_id: str) -> None:
    """Connects once with a clean start so the broker drops the test's persistent session."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect(*BROKER, clean_start=True)
    client.disconnect()


def worker_process(database_url: str, config: MqttSettings) -> subprocess.Popen:
    config.status_file.unlink(missing_ok=True)  # so readiness is this process's, not a predecessor's
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


def wait_subscribed(config: MqttSettings, timeout: float = 20) -> None:
    """A worker process is ready once its status file says it is connected."""

    def subscribed() -> bool:
        try:
            return json.loads(config.status_file.read_text()).get("subscribed", False)
        except (OSError, ValueError):
            return False

    wait_until(subscribed, timeout, "the worker to subscribe")
