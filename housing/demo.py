"""`housing demo`: the whole platform on one machine, each part in its own process.

The web process runs here; the broker (embedded amqtt when no HOUSING_MQTT__HOST is
set), the ingest worker, the device simulator and the scheduler run as child processes,
exactly as they would in production, and stop with the demo.
"""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, func, select

from billing.jobs import monthly_billing
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing.clock import local_today
from housing.registry.seeding import ensure_demo_city
from housing.requests.seeding import ensure_request_categories
from housing.scores.jobs import nightly_scores
from housing.settings import Settings
from sensors.ingest.embedded_broker import EmbeddedBroker
from sensors.models import Reading
from sensors.seeding import seed_meters, seed_reading_history

HISTORY_MONTHS = 6
SIMULATOR_RATE = 200  # messages a second: about one simulated quarter hour every minute


def prepare(engine: Engine, settings: Settings) -> list[str]:
    """Seeds the demo city, its meters and some months of readings, once. Returns what it did.

    `catch_up` then bills and scores; the demo's users come in between, so that their inbox
    holds last month's invoice notice as a resident's would."""
    today = local_today(settings.timezone)
    done = ["demo city seeded" if ensure_demo_city(engine) else "demo city already there"]
    done.append(seed_meters(engine, today=today))
    done.append(seed_tashkent_tariffs(engine))
    done.append(ensure_request_categories(engine))
    with engine.connect() as connection:
        has_readings = connection.execute(select(func.count()).select_from(Reading)).scalar_one() > 0
    if not has_readings:
        window = (settings.meters.window_start_day, settings.meters.window_end_day)
        done.append(seed_reading_history(engine, months=HISTORY_MONTHS, today=today, window=window))
    return done


def catch_up(engine: Engine, settings: Settings) -> list[str]:
    """What the scheduler would have left by now: last month's invoices (and their notices) and
    the scores, so that residents have a bill to pay and officials a ranking to read from the start."""
    today = local_today(settings.timezone)
    return [monthly_billing(engine, settings, today=today), nightly_scores(engine, settings)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], env=env)  # noqa: S603 - our own modules


@contextmanager
def background(settings: Settings, say: Callable[[str], None]) -> Iterator[None]:
    """Starts broker (if needed), ingest, simulator and scheduler; stops them on exit."""
    # uvicorn re-raises SIGTERM once it has shut down; as SystemExit it unwinds through
    # the `finally` below instead of killing this process and orphaning the children.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    env = dict(os.environ)
    children: list[subprocess.Popen] = []
    broker = None
    if settings.mqtt.host:
        host, port = settings.mqtt.host, settings.mqtt.port
        say(f"MQTT broker: {host}:{port} (HOUSING_MQTT__HOST)")
    else:
        # amqtt speaks MQTT 3.1.1 only; the partition sessions use plain subscriptions, which it serves.
        broker = EmbeddedBroker(port=free_port(), mode="process")
        broker.start()
        host, port = broker.host, broker.port
        env |= {"HOUSING_MQTT__PROTOCOL": "4"}
        say(f"MQTT broker: embedded amqtt on {host}:{port}")
    env |= {"HOUSING_MQTT__HOST": host, "HOUSING_MQTT__PORT": str(port)}
    children.append(_child(["housing.cli", "ingest"], env))
    # One flat's water never stops and one flat stays cold: the twin's leak and cold-flat
    # states then come from readings, as they would in a real city.
    simulate = ["simulate", "--rate", str(SIMULATOR_RATE), "--fault", "leak", "--fault", "cold_flat"]
    children.append(_child(["housing.cli", *simulate], env))
    children.append(_child(["housing.cli", "worker"], env))
    say("ingest worker, device simulator and scheduler started")
    try:
        yield
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        if broker is not None:  # last, so the ingest worker could acknowledge what it stored
            broker.stop()
