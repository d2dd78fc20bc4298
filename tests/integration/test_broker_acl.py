"""deploy/mosquitto/acl on the pinned Mosquitto: a device writes only under its own serial, v2 and v1."""

import shutil
import subprocess
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sensors.ingest.payloads import partition_of
from tests.integration.mqtt_helpers import wait_until
from tests.integration.private_broker import ROOT, PrivateMosquitto

NOT_AUTHORIZED = 0x87
NO_MATCHING_SUBSCRIBERS = 0x10


def _client(port: int, user: str, password: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"acl-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(user, password)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(10), f"{user} could not log in"
    return client


def _reason(client: mqtt.Client, topic: str) -> int:
    answered: dict[int, int] = {}
    client.on_publish = lambda c, u, mid, rc, p: answered.__setitem__(mid, rc.value)
    info = client.publish(topic, b'{"ts": "2026-11-01T00:15:00+05:00", "value": 1}', qos=1)
    info.wait_for_publish(10)
    return answered[info.mid]


@pytest.fixture
def acl_broker(tmp_path):
    passwords = tmp_path / "passwd"
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    for n, (user, password) in enumerate((("ingest", "pw-ingest"), ("SN1", "pw-sn1"), ("SN2", "pw-sn2"))):
        subprocess.run([tool, "-b", *(["-c"] if n == 0 else []), str(passwords), user, password], check=True)
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = PrivateMosquitto(
        workdir,
        extra=[
            "allow_anonymous false",
            f"password_file {passwords}",
            f"acl_file {ROOT / 'deploy/mosquitto/acl'}",
        ],
    )
    broker.start()
    yield broker
    broker.stop()


def test_a_device_writes_v2_and_v1_under_its_own_serial_only(acl_broker):
    port = acl_broker.port
    own = partition_of("SN1")
    received = []
    subscribed = threading.Event()
    ingest = _client(port, "ingest", "pw-ingest")
    ingest.on_message = lambda c, u, m: received.append(m.topic)
    ingest.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
    ingest.subscribe([("housing/v2/+/meters/+/readings", 1), ("housing/v1/meters/+/readings", 1)])
    assert subscribed.wait(10)
    device = _client(port, "SN1", "pw-sn1")
    try:
        assert _reason(device, f"housing/v2/{own}/meters/SN1/readings") == 0
        assert (
            _reason(device, f"housing/v2/{own}/sensors/SN1/measurements") == NO_MATCHING_SUBSCRIBERS
        )  # allowed
        assert _reason(device, "housing/v1/meters/SN1/readings") == 0
        # Another partition is allowed (and stored: the partition only spreads the load).
        other = f"{(int(own) + 1) % 16:02d}"
        assert _reason(device, f"housing/v2/{other}/meters/SN1/readings") == 0
        # Another serial's topics, or outside the contract: refused.
        for topic in (
            f"housing/v2/{partition_of('SN2')}/meters/SN2/readings",
            "housing/v1/meters/SN2/readings",
            "housing/v2/SN1/readings",
            "housing/v3/00/meters/SN1/readings",
            "elsewhere/SN1",
        ):
            assert _reason(device, topic) == NOT_AUTHORIZED, topic
        assert _reason(ingest, f"housing/v2/{own}/meters/SN1/readings") == NOT_AUTHORIZED  # ingest only reads
        wait_until(lambda: len(received) >= 3, 10, "the accepted readings at the ingest user")
    finally:
        device.disconnect()
        device.loop_stop()
        ingest.disconnect()
        ingest.loop_stop()
    assert sorted(received) == sorted(
        [
            f"housing/v2/{own}/meters/SN1/readings",
            "housing/v1/meters/SN1/readings",
            f"housing/v2/{other}/meters/SN1/readings",
        ]
    )
