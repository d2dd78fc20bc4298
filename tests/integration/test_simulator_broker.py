"""The simulator against real brokers: the local Mosquitto (CI starts it) and the embedded amqtt.

Every test publishes under its own topic prefix (test/<uuid>), so tests never read each
other's messages.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from housing.db import utcnow
from sensors.ingest.embedded_broker import BrokerError, EmbeddedBroker
from sensors.ingest.payloads import device_topic, parse_payload, parse_topic, partition_of
from sensors.seeding import seed_meters
from sensors.simulator.profiles import floor_step
from sensors.simulator.publisher import Publisher
from sensors.simulator.run import run_simulator
from tests.conftest import TEST_SECRET
from tests.factories.core import make_apartment, make_building
from tests.integration.mqtt_helpers import BROKER, wait_until

MESSAGES = 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def seeded(db, session, settings):
    """Two small buildings with metered apartments; a per-test topic prefix in settings."""
    for _ in range(2):
        building = make_building(session)
        for _ in range(3):
            make_apartment(session, building)
    session.commit()
    seed_meters(db, today=utcnow().date())
    settings.mqtt.topic_root = f"test/{uuid.uuid4().hex[:10]}"
    return settings


class Subscriber:
    """A plain paho client collecting everything under a prefix."""

    def __init__(self, port: int, prefix: str, *, protocol: int = mqtt.MQTTv5, client_id: str | None = None):
        self.messages: list[mqtt.MQTTMessage] = []
        self.subscribed = threading.Event()
        self.prefix = prefix
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-sub-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
            clean_session=False if client_id and protocol == mqtt.MQTTv311 else None,
        )
        self.sentinel_topic = f"{prefix}/sentinel/{uuid.uuid4().hex[:8]}"
        self.sentinel_seen = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(
            f"{prefix}/#", qos=1
        )
        self.client.on_subscribe = lambda client, userdata, mid, codes, props: self.subscribed.set()
        self.port = port
        self.protocol = protocol

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self.sentinel_topic:
            self.sentinel_seen.set()
        else:
            self.messages.append(message)

    def __enter__(self):
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the test subscriber did not subscribe"
        return self

    def __exit__(self, *exc):
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, count: int, timeout: float = 20) -> None:
        """Waits for `count` messages, then proves nothing more is on its way: a sentinel
        published now is routed behind everything already acknowledged to the publishers,
        so once it arrives every earlier message has too."""
        wait_until(lambda: len(self.messages) >= count, timeout, f"{count} messages")
        sentinel = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-sentinel-{uuid.uuid4().hex[:8]}",
            protocol=self.protocol,
        )
        sentinel.connect("127.0.0.1", self.port)
        sentinel.loop_start()
        try:
            sentinel.publish(self.sentinel_topic, b"{}", qos=1).wait_for_publish(10)
        finally:
            sentinel.disconnect()
            sentinel.loop_stop()
        assert self.sentinel_seen.wait(10), "the sentinel did not arrive"

    def check_all_parse(self) -> None:
        now = utcnow()
        for message in self.messages:
            channel, serial = parse_topic(message.topic, self.prefix)
            values = parse_payload(
                message.payload,
                serial=serial,
                channel=channel,
                now=now,
                max_bytes=65536,
                future_tolerance=timedelta(0),
            )
            assert len(values) == 1


def test_simulated_readings_reach_mosquitto_and_all_parse(db, seeded):
    start = floor_step(utcnow() - timedelta(days=1))
    with Subscriber(BROKER[1], seeded.mqtt.topic_root) as subscriber:
        summary = run_simulator(
            seeded,
            rate=2000,
            count=MESSAGES,
            start=start,
            host=BROKER[0],
            port=BROKER[1],
            protocol=5,
            engine=db,
        )
        subscriber.wait_for(MESSAGES)
    assert summary.published == summary.acknowledged == MESSAGES
    assert len(subscriber.messages) == MESSAGES
    subscriber.check_all_parse()
    topics = {m.topic.split("/")[-3] for m in subscriber.messages}
    assert topics == {"meters", "sensors"}
    assert summary.rounds >= MESSAGES // (summary.meters + summary.sensors)


def test_the_rate_is_kept(db, seeded):
    start = floor_step(utcnow() - timedelta(days=1))
    with Subscriber(BROKER[1], seeded.mqtt.topic_root):  # without one, MQTT 5 reports drops
        summary = run_simulator(
            seeded, rate=100, count=MESSAGES, start=start, host=BROKER[0], port=BROKER[1], engine=db
        )
    assert summary.acknowledged == MESSAGES
    assert 1.5 < summary.seconds < 4  # 200 messages at 100 a second


def test_a_full_send_queue_makes_the_publisher_wait_and_loses_nothing():
    prefix = f"test/{uuid.uuid4().hex[:10]}"
    publisher = Publisher(host=BROKER[0], port=BROKER[1], protocol=5, max_queued=20)
    publisher.connect()
    try:
        with Subscriber(BROKER[1], prefix) as subscriber:
            for n in range(500):
                payload = f'{{"ts": "2026-11-01T00:15:00+05:00", "value": {n}, "seq": {n}}}'.encode()
                assert publisher.publish(f"{prefix}/meters/QS-{n:03d}/readings", payload)
            assert publisher.wait_acknowledged(20)
            subscriber.wait_for(500)
    finally:
        publisher.close()
    assert publisher.backoffs > 0  # MQTT_ERR_QUEUE_SIZE was answered, and waited out
    assert publisher.published == publisher.acknowledged == len(subscriber.messages) == 500


def test_sigterm_stops_the_simulator_cleanly_with_a_summary(db, seeded, database_url):
    script = (
        "from housing.settings import Settings; from sensors.simulator.run import run_simulator; "
        "print(run_simulator(Settings(), rate=50, host='127.0.0.1', port=1883, protocol=5), flush=True)"
    )
    env = os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "HOUSING_MQTT__TOPIC_ROOT": seeded.mqtt.topic_root,
    }
    with Subscriber(BROKER[1], seeded.mqtt.topic_root) as subscriber:
        process = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: len(subscriber.messages) >= 20, 20, "the simulator to publish")
            process.send_signal(signal.SIGTERM)
            out, _ = process.communicate(timeout=20)
        finally:
            process.kill()
        assert process.returncode == 0
        assert "acknowledged" in out and "unacknowledged" not in out
        published = int(out.split("Published ")[1].split(" ")[0].replace(",", ""))
        subscriber.wait_for(published, timeout=5)  # everything acknowledged before the exit
    assert len(subscriber.messages) == published


def test_embedded_broker_serves_the_simulator_at_mqtt_3_1_1(db, seeded):
    port = free_port()
    start = floor_step(utcnow() - timedelta(days=1))
    with (
        EmbeddedBroker(port=port) as broker,
        Subscriber(port, seeded.mqtt.topic_root, protocol=mqtt.MQTTv311) as subscriber,
    ):
        assert broker.running
        summary = run_simulator(
            seeded, rate=2000, count=MESSAGES, start=start, host="127.0.0.1", port=port, protocol=4, engine=db
        )
        subscriber.wait_for(MESSAGES)
    assert not broker.running
    assert summary.published == summary.acknowledged == MESSAGES
    assert len(subscriber.messages) == MESSAGES
    subscriber.check_all_parse()


def test_embedded_broker_keeps_messages_for_a_persistent_session(db, seeded):
    """What a restarted ingest worker relies on: QoS 1 messages queued while it was away."""
    port = free_port()
    prefix = seeded.mqtt.topic_root
    start = floor_step(utcnow() - timedelta(days=1))
    with EmbeddedBroker(port=port, mode="thread"):
        with Subscriber(port, prefix, protocol=mqtt.MQTTv311, client_id="test-worker"):
            pass  # subscribed, then gone
        summary = run_simulator(
            seeded, rate=2000, count=100, start=start, host="127.0.0.1", port=port, protocol=4, engine=db
        )
        assert summary.acknowledged == 100
        with Subscriber(port, prefix, protocol=mqtt.MQTTv311, client_id="test-worker") as back:
            back.wait_for(100)
    assert len(back.messages) == 100


def test_embedded_broker_binds_only_localhost_and_reports_a_taken_port():
    port = free_port()
    with EmbeddedBroker(port=port, mode="thread"):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        # Bound to 127.0.0.1 only: another address of this machine (127.0.0.2 is one on
        # Linux) is refused, where a 0.0.0.0 listener would answer.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=2).close()
        with pytest.raises(BrokerError, match="in use"):
            EmbeddedBroker(port=port).start()


@pytest.mark.parametrize("contract", ["v2", "v1"])
def test_a_publish_nobody_subscribed_to_is_a_drop_not_a_delivery(db, seeded, contract):
    """MQTT 5 PUBACK 0x10 "no matching subscribers": accepted by the broker and thrown away."""
    start = floor_step(utcnow() - timedelta(days=1))
    lost = run_simulator(
        seeded, rate=2000, count=60, start=start, host=BROKER[0], port=BROKER[1], protocol=5, engine=db,
        contract=contract,
    )  # fmt: skip
    assert (lost.published, lost.acknowledged, lost.dropped, lost.unacknowledged) == (60, 0, 60, 0)
    assert "60 DROPPED: no subscriber" in str(lost)
    # Half of the time someone listens: only what reached a subscriber is acknowledged.
    with Subscriber(BROKER[1], seeded.mqtt.topic_root) as subscriber:
        heard = run_simulator(
            seeded, rate=2000, count=40, start=start, host=BROKER[0], port=BROKER[1], protocol=5, engine=db,
            contract=contract,
        )  # fmt: skip
        subscriber.wait_for(40)
    assert (heard.acknowledged, heard.dropped) == (40, 0)
    assert "DROPPED" not in str(heard)
    assert {m.topic.split("/")[1] for m in subscriber.messages} == {seeded.mqtt.topic_root.split("/")[1]}
    assert {m.topic.split("/")[2] for m in subscriber.messages} == {contract}
    # MQTT 3.1.1 cannot tell: the same drop is a plain PUBACK (documented in `housing simulate --help`).
    blind = run_simulator(
        seeded, rate=2000, count=20, start=start, host=BROKER[0], port=BROKER[1], protocol=4, engine=db,
        contract=contract,
    )  # fmt: skip
    assert (blind.acknowledged, blind.dropped) == (20, 0)


def test_the_simulator_publishes_contract_v2_topics_by_default_with_the_serials_partition(db, seeded):
    start = floor_step(utcnow() - timedelta(days=1))
    with Subscriber(BROKER[1], seeded.mqtt.topic_root) as subscriber:
        run_simulator(
            seeded, rate=2000, count=30, start=start, host=BROKER[0], port=BROKER[1], protocol=5, engine=db
        )
        subscriber.wait_for(30)
    root = seeded.mqtt.topic_root
    for message in subscriber.messages:
        _, serial = parse_topic(message.topic, root)
        channel = message.topic.split("/")[-3]
        assert message.topic == device_topic(root, channel, serial, "v2")
        assert message.topic.split("/")[3] == partition_of(serial)
