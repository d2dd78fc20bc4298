"""The ingest worker against the real Mosquitto: every accepted message stored exactly once.

The local broker runs Debian's stock configuration, whose max_queued_messages of 1000
drops QoS 1 messages for an absent subscriber (MQTT-NOTES.md); the tests keep what is
queued for a stopped worker under that, while deploy/mosquitto/mosquitto.conf raises it.
"""

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from housing.cli import app as cli
from sensors.ingest.payloads import device_topic
from sensors.models import Measurement, RejectedMessage, Sensor
from tests.conftest import TEST_DATABASE_URL, TEST_SECRET
from tests.integration.mqtt_helpers import (
    forget_sessions,
    make_meters,
    mqtt_test_config,
    publish,
    read_status,
    readings_payloads,
    sentinels,
    stored_count,
    wait_subscribed,
    wait_until,
    worker_process,
    worker_thread,
)
from tests.integration.private_broker import free_port
from tests.integration.tcp_proxy import OutageProxy, proxied


def test_good_readings_are_stored_and_bad_ones_kept_with_a_reason(db, session, tmp_path):
    config = mqtt_test_config(tmp_path)
    serials = make_meters(session, 3)
    good = readings_payloads(serials, per_meter=4)
    bad = [
        (serials[0], b"not json at all"),
        (serials[0], b'{"value": 5}'),
        (serials[0], b'{"ts": "2026-11-01T00:15:00+05:00", "value": NaN}'),
        (serials[0], b'{"ts": "2026-11-01T00:15:00+05:00", "value": -4}'),
        (serials[0], b'{"ts": "2099-01-01T00:00:00+05:00", "value": 4}'),
        ("NO-SUCH-METER", b'{"ts": "2026-11-01T00:15:00+05:00", "value": 4}'),
        (
            serials[1],
            json.dumps({"ts": "2026-11-01T00:15:00+05:00", "value": 4, "serial": serials[2]}).encode(),
        ),
        (serials[0], b'{"ts": "2026-11-01T00:15:00+05:00", "value": 4, "pad": "' + b"x" * 70000 + b'"}'),
    ]
    with worker_thread(db, config) as worker:
        # Bad messages first: they must not hold up the good ones behind them.
        publish(config.topic_root, bad + good)
        wait_until(lambda: stored_count(db, serials) == len(good), 20, "the good readings")
        wait_until(lambda: worker.metrics.snapshot()["rejected"] == len(bad), 10, "the rejections")
    reasons = [r.reason for r in session.exec(select(RejectedMessage)).all()]
    assert len(reasons) == len(bad)
    kinds = sorted(reason.split(":")[0] for reason in reasons)
    assert kinds == sorted(
        [
            "not_json",
            "bad_shape",
            "bad_value",
            "bad_value",
            "future",
            "unknown_serial",
            "wrong_serial",
            "too_large",
        ]
    )


def test_the_same_reading_twice_is_stored_once(db, session, tmp_path):
    config = mqtt_test_config(tmp_path)
    serials = make_meters(session, 2)
    messages = readings_payloads(serials, per_meter=5)
    with worker_thread(db, config) as worker:
        publish(config.topic_root, messages + messages[:4])
        wait_until(lambda: worker.metrics.snapshot()["duplicates"] == 4, 20, "the duplicates to be counted")
    assert stored_count(db, serials) == len(messages)


def test_condition_sensor_measurements_are_stored(db, session, tmp_path):
    from datetime import date

    config = mqtt_test_config(tmp_path)
    serials = make_meters(session, 1)  # makes the building too
    building_id = session.exec(select(Sensor.building_id)).first()  # none yet
    assert building_id is None
    from housing.registry.models import Building

    building = session.exec(select(Building)).first()
    session.add(
        Sensor(
            serial="HWT-T1",
            kind="hot_water_temperature",
            building_id=building.id,
            installed_on=date(2024, 1, 1),
        )
    )
    session.commit()
    payload = json.dumps(
        {
            "readings": [
                {"ts": "2026-11-01T00:15:00+05:00", "value": 61.5},
                {"ts": "2026-11-01T00:30:00+05:00", "value": 44.25},
            ]
        }
    )
    with worker_thread(db, config):
        publish(
            config.topic_root,
            [("HWT-T1", payload.encode())],
            topic_for=lambda s: device_topic(config.topic_root, "sensors", s),
        )
        wait_until(lambda: len(session.exec(select(Measurement)).all()) == 2, 20, "the measurements")
    assert sorted(str(m.value) for m in session.exec(select(Measurement)).all()) == ["44.25", "61.50"]
    assert serials


def test_a_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(db, session, database_url, tmp_path):
    config = mqtt_test_config(tmp_path, batch_size=200)
    serials = make_meters(session, 10)
    messages = readings_payloads(serials, per_meter=90)  # 900 readings: under the stock queue limit
    worker = worker_process(database_url, config)
    try:
        wait_subscribed(config)
        publish(config.topic_root, messages[:600])
        wait_until(lambda: stored_count(db, serials) >= 200, 30, "some readings to be stored")
        worker.send_signal(signal.SIGKILL)  # mid-stream: some stored, some in flight, none flushed
        worker.wait(10)
        killed_at = stored_count(db, serials)
        publish(config.topic_root, messages[600:])  # the broker queues these for the dead worker
        worker = worker_process(database_url, config)
        wait_until(lambda: stored_count(db, serials) == len(messages), 60, "every reading after the restart")
        publish(config.topic_root, sentinels(serials))  # behind anything still on its way
        wait_until(lambda: stored_count(db, serials) >= len(messages) + len(serials), 30, "the sentinels")
        assert stored_count(db, serials) == len(messages) + len(serials)  # nothing else arrived late
        assert killed_at < len(messages)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
        forget_sessions(config)
    assert worker.returncode == 0, output


def test_two_workers_on_the_shared_subscription_store_each_reading_once(db, session, tmp_path):
    first = mqtt_test_config(tmp_path)
    second = first.model_copy(
        update={"client_id": first.client_id + "-b", "status_file": tmp_path / "b.json"}
    )
    serials = make_meters(session, 10)
    messages = readings_payloads(serials, per_meter=60)
    with worker_thread(db, first) as a, worker_thread(db, second) as b:
        publish(first.topic_root, messages)
        wait_until(lambda: stored_count(db, serials) == len(messages), 30, "every reading")
        publish(first.topic_root, sentinels(serials))  # behind any redelivery still on its way
        total = len(messages) + len(serials)
        wait_until(lambda: stored_count(db, serials) == total, 30, "the sentinels")
        wait_until(
            lambda: a.metrics.snapshot()["received"] + b.metrics.snapshot()["received"] >= total,
            10,
            "the workers to count the sentinels",
        )
        received = (a.metrics.snapshot()["received"], b.metrics.snapshot()["received"])
    assert stored_count(db, serials) == total
    assert sum(received) == total, received  # each message went to exactly one worker
    assert min(received) > 0, received  # and both did a share of the work


def test_sigterm_flushes_and_acknowledges_what_was_stored(db, session, database_url, tmp_path):
    config = mqtt_test_config(tmp_path, batch_wait_ms=60_000, batch_size=10000)
    serials = make_meters(session, 5)
    messages = readings_payloads(serials, per_meter=40)
    worker = worker_process(database_url, config)
    try:
        wait_subscribed(config)
        publish(config.topic_root, messages)
        wait_until(
            lambda: read_status(config).get("waiting") == len(messages), 20, "every message in the open batch"
        )
        assert stored_count(db, serials) == 0  # received, but the minute-long batch is still open
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, output
        assert stored_count(db, serials) == len(messages)
        # Everything was acknowledged: a restarted worker gets nothing again.
        worker = worker_process(database_url, config.model_copy(update={"batch_wait_ms": 50}))
        wait_subscribed(config)
        publish(config.topic_root, sentinels(serials))  # behind anything redelivered
        total = len(messages) + len(serials)
        wait_until(lambda: stored_count(db, serials) == total, 30, "the sentinels")
        wait_until(
            lambda: read_status(config).get("stored", 0) >= len(serials), 10, "the status to count them"
        )
        status = read_status(config)
        assert status["received"] == len(serials), status  # the sentinels, nothing redelivered
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
        forget_sessions(config)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL over TCP (HOUSING_TEST_DATABASE_URL)")
def test_thirty_seconds_without_the_database_loses_nothing(db, session, database_url, tmp_path):
    config = mqtt_test_config(tmp_path, batch_size=100)
    with outage_run(db, session, database_url, config) as run:
        proxy, serials, messages = run.proxy, run.serials, run.messages
        proxy.cut()
        outage_ends = time.monotonic() + 30
        publish(config.topic_root, messages[200:])  # arrive while the database is away
        wait_until(lambda: read_status(config).get("database_errors", 0) > 0, 30, "the worker to notice")
        time.sleep(max(0.0, outage_ends - time.monotonic()))  # the outage lasts its 30 s (not a proof)
        assert stored_count(db, serials) == 200
        status = read_status(config)
        assert status["database_errors"] > 0, status  # it noticed, and kept retrying
        proxy.restore()
        wait_until(lambda: stored_count(db, serials) == len(messages), 60, "every reading after the outage")
    assert run.worker.returncode == 0, run.output


@dataclass
class OutageRun:
    proxy: OutageProxy
    serials: list[str]
    messages: list[tuple[str, bytes]]
    worker: subprocess.Popen
    output: str = ""


@contextmanager
def outage_run(db, session, database_url: str, config) -> Iterator[OutageRun]:
    """A worker on the database through a proxy, 600 readings of 5 meters, the first 200 stored.

    On the way out the worker is stopped (its output kept in `output`), the proxy closed and
    the broker's sessions and the status file forgotten."""
    proxy, through_proxy = proxied(database_url)
    serials = make_meters(session, 5)
    messages = readings_payloads(serials, per_meter=120)  # 600 readings
    run = OutageRun(proxy, serials, messages, worker_process(through_proxy, config))
    try:
        wait_subscribed(config)
        publish(config.topic_root, messages[:200])
        wait_until(lambda: stored_count(db, serials) == 200, 30, "the first readings")
        yield run
    finally:
        run.worker.send_signal(signal.SIGTERM)
        run.output, _ = run.worker.communicate(timeout=30)
        proxy.close()
        forget_sessions(config)
        config.status_path.unlink(missing_ok=True)


def _metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def _health(config) -> tuple[int, str]:
    env = {"HOUSING_ENVIRONMENT": "test", "HOUSING_AUTH__SECRET_KEY": TEST_SECRET}
    env |= {f"HOUSING_MQTT__{k.upper()}": str(v) for k, v in config.model_dump().items() if v is not None}
    result = CliRunner().invoke(cli, ["health", "ingest"], env=env)
    return result.exit_code, result.output


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL over TCP (HOUSING_TEST_DATABASE_URL)")
def test_health_fails_in_a_database_outage_while_readings_wait_and_recovers(
    db, session, database_url, tmp_path
):
    metrics_port = free_port()
    # No status_file: the default path is per client id, and the health check finds it by the id alone.
    config = mqtt_test_config(
        tmp_path, batch_size=100, stall_after_s=3, metrics_port=metrics_port, status_file=None
    )
    assert config.status_path.name == f"housing-ingest-{config.client_id}.status.json"
    with outage_run(db, session, database_url, config) as run:
        proxy, serials, messages = run.proxy, run.serials, run.messages
        code, output = _health(config)
        assert code == 0 and "healthy" in output, output

        proxy.cut()
        publish(config.topic_root, messages[200:])  # arrive while the database is away
        wait_until(lambda: _health(config)[0] == 1, 20, "health to fail in the outage")
        wait_until(lambda: "database errors since the last commit" in _health(config)[1], 20, "the reason")
        # Live figures while the worker is stuck retrying one batch: waiting counts every
        # received message (the batch in hand too), the oldest one ages, the commit recedes.
        wait_until(lambda: _metrics(metrics_port)["ingest_messages_waiting"] == 400, 20, "400 waiting")
        first = _metrics(metrics_port)
        wait_until(
            lambda: (
                _metrics(metrics_port)["ingest_seconds_since_commit"]
                > first["ingest_seconds_since_commit"] + 1
            ),
            10,
            "the time since the last commit to grow",
        )
        later = _metrics(metrics_port)
        assert later["ingest_oldest_waiting_seconds"] > first["ingest_oldest_waiting_seconds"] > 0
        status = json.loads(config.status_path.read_text())
        assert status["waiting"] == 400 and status["oldest_waiting_s"] > 0, status
        wait_until(lambda: "nothing was committed" in _health(config)[1], 20, "the stall to be reported")
        before = json.loads(config.status_path.read_text())["at"]
        wait_until(
            lambda: json.loads(config.status_path.read_text())["at"] > before, 5, "a fresh status file"
        )
        assert stored_count(db, serials) == 200

        proxy.restore()
        wait_until(lambda: stored_count(db, serials) == len(messages), 60, "every reading after the outage")
        wait_until(lambda: _health(config)[0] == 0, 30, "health to recover")
        assert _metrics(metrics_port)["ingest_messages_waiting"] == 0
    assert run.worker.returncode == 0, run.output
