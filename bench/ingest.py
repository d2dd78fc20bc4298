"""How fast `housing ingest` stores readings, next to what a bare MQTT subscriber receives.

    python bench/ingest.py --url postgresql+psycopg://postgres@127.0.0.1:5432/ingestbench \\
        --messages 200000 --publishers 3 --runs 3

It starts a private Mosquitto (the system binary, our deploy/mosquitto/mosquitto.conf
limits, anonymous on a spare loopback port, no persistence) so that the stock queue
limit cannot drop messages, migrates a scratch database and registers --meters meters.
Each run then publishes --messages readings at QoS 1 from --publishers processes and
times, from the first publish to the last message handled:

(a) baseline: a bare paho subscriber at QoS 1 that only counts (automatic ack);
(b) `housing ingest` as a separate process on the same broker: device contract v2,
    one persistent MQTT 5 session per partition (16 + v1) with plain subscriptions,
    batched writes, ack after commit, until every reading is in PostgreSQL.

It prints both rates, their ratio and the worker's peak resident memory.
"""

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text

from housing import migrate
from housing.db import make_engine
from housing.registry.models import Apartment, Building
from housing.registry.seeding import seed_city
from housing.settings import Settings
from sensors.ingest.payloads import device_topic
from sensors.models import Meter, Reading

ROOT = Path(__file__).resolve().parents[1]
console = Console()


def start_broker(workdir: Path, port: int) -> subprocess.Popen:
    base = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    keep = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages", "max_packet_size")
    limits = [line for line in base.splitlines() if line.strip().startswith(keep)]
    config = workdir / "mosquitto.conf"
    config.write_text(
        "\n".join([f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", *limits]) + "\n"
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = mqtt.Client(CallbackAPIVersion.VERSION2)
        try:
            probe.connect("127.0.0.1", port)
            probe.disconnect()
            return broker
        except OSError:
            time.sleep(0.1)
    broker.kill()
    raise SystemExit("the private mosquitto did not start")


def prepare_database(url: str, meters: int) -> list[str]:
    settings = Settings(db={"url": url})
    engine = make_engine(settings)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(url)
    seed_city(engine, apartments=meters, companies=2)
    with engine.begin() as connection:
        apartments = connection.execute(select(Apartment.id, Apartment.building_id)).all()
        rows = [
            {
                "serial": f"BENCH-{n:07d}",
                "kind": "cold_water",
                "unit": "m3",
                "building_id": building_id,
                "apartment_id": apartment_id,
                "installed_on": date(2024, 1, 1),
                "initial_value": 0,
                "smart": True,
            }
            for n, (apartment_id, building_id) in enumerate(apartments)
        ]
        connection.execute(insert(Meter), rows)
        assert connection.execute(select(func.count()).select_from(Building)).scalar_one() > 0
    engine.dispose()
    return [row["serial"] for row in rows]


def payloads(serials: list[str], count: int, run: int) -> list[tuple[str, bytes]]:
    """Readings every 15 minutes; each run uses its own past window so no run's rows collide."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=30 * (run + 1))
    out = []
    for n in range(count):
        serial = serials[n % len(serials)]
        step = n // len(serials)
        ts = (start + timedelta(minutes=15 * step)).isoformat()
        out.append(
            (serial, json.dumps({"ts": ts, "value": round(100 + step * 0.012, 3), "seq": step}).encode())
        )
    return out


def publisher(port: int, root: str, messages: list[tuple[str, bytes]], go: multiprocessing.Event) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    go.wait()
    infos = []
    for serial, payload in messages:
        while True:
            info = client.publish(device_topic(root, "meters", serial), payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                break
            time.sleep(0.001)
        infos.append(info)
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def publish_all(port: int, prefix: str, messages: list, processes: int) -> tuple[list, multiprocessing.Event]:
    go = multiprocessing.Event()
    chunks = [messages[i::processes] for i in range(processes)]
    workers = [multiprocessing.Process(target=publisher, args=(port, prefix, chunk, go)) for chunk in chunks]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # connected and waiting
    return workers, go


def run_baseline(port: int, prefix: str, messages: list, processes: int) -> float:
    received = 0
    done = threading.Event()

    def on_message(client, userdata, message):
        nonlocal received
        received += 1
        if received == len(messages):
            done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(f"{prefix}/v2/+/meters/+/readings", qos=1)
    client.loop_start()
    time.sleep(0.5)
    workers, go = publish_all(port, prefix, messages, processes)
    started = time.perf_counter()
    go.set()
    if not done.wait(600):
        raise SystemExit(f"baseline received only {received} of {len(messages)}")
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    client.disconnect()
    client.loop_stop()
    return len(messages) / elapsed


def run_ingest(
    url: str, port: int, prefix: str, messages: list, processes: int, workdir: Path
) -> tuple[float, int]:
    status = workdir / f"status-{uuid.uuid4().hex[:6]}.json"
    env = os.environ | {
        "HOUSING_DB__URL": url,
        "HOUSING_MQTT__HOST": "127.0.0.1",
        "HOUSING_MQTT__PORT": str(port),
        "HOUSING_MQTT__CLIENT_ID": "bench-ingest-1",
        "HOUSING_MQTT__SESSION_PREFIX": "bench-ingest",
        "HOUSING_MQTT__TOPIC_ROOT": prefix,
        "HOUSING_MQTT__STATUS_FILE": str(status),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "ingest"], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while not (status.exists() and json.loads(status.read_text() or "{}").get("subscribed")):
        if time.monotonic() > deadline:
            raise SystemExit("the ingest worker did not subscribe")
        time.sleep(0.1)
    engine = make_engine(Settings(db={"url": url}))
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(Reading)).scalar_one()
    publishers, go = publish_all(port, prefix, messages, processes)
    started = time.perf_counter()
    go.set()
    stored = before
    while stored - before < len(messages):
        time.sleep(0.05)
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(Reading)).scalar_one()
        if time.perf_counter() - started > 600:
            raise SystemExit(f"ingest stored only {stored - before} of {len(messages)}")
    elapsed = time.perf_counter() - started
    peak_kib = _peak_rss_kib(worker.pid)
    worker.terminate()
    worker.wait(30)
    for publisher_process in publishers:
        publisher_process.join()
    engine.dispose()
    return len(messages) / elapsed, peak_kib


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", required=True, help="PostgreSQL URL of a scratch database (its schema is replaced)"
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--meters", type=int, default=2_000)
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=18830)
    args = parser.parse_args()
    if not shutil.which("mosquitto"):
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")

    serials = prepare_database(args.url, args.meters)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker = start_broker(workdir, args.port)
    baselines, ingests, memory = [], [], []
    try:
        for run in range(args.runs):
            messages = payloads(serials, args.messages, run)
            baselines.append(run_baseline(args.port, f"bench/base{run}", messages, args.publishers))
            rate, peak = run_ingest(args.url, args.port, "housing", messages, args.publishers, workdir)
            ingests.append(rate)
            memory.append(peak)
            console.print(
                f"run {run + 1}: bare {baselines[-1]:,.0f}/s, ingest {rate:,.0f}/s, peak {peak / 1024:.0f} MiB"
            )
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    base, ours = statistics.median(baselines), statistics.median(ingests)
    table = Table(
        title=f"{args.messages:,} readings, {args.publishers} publishers, median of {args.runs} runs"
    )
    table.add_column("path")
    table.add_column("readings/s", justify="right")
    table.add_column("vs bare", justify="right")
    table.add_column("peak RSS", justify="right")
    table.add_row("(a) bare paho subscriber, QoS 1, counts only", f"{base:,.0f}", "1.00", "")
    table.add_row(
        "(b) housing ingest -> PostgreSQL, ack after commit", f"{ours:,.0f}", f"{ours / base:.2f}",
        f"{max(memory) / 1024:.0f} MiB",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, {date.today()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
