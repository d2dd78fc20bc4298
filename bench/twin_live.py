"""Open building views receiving live updates while the simulator publishes readings, with the web
process's CPU and memory; the same run with no view open as the baseline.

    python bench/twin_live.py --url postgresql+psycopg://postgres@127.0.0.1:5432/livebench \\
        --buildings 300 --apartments 16 --streams 200 --watched 20 --rate 2000 --seconds 60 --client-processes 2

It drops the public schema of the database (refused while its tables hold rows, unless
--reset), migrates it and seeds bench/twin_map.py's twin city of --buildings buildings of
--apartments flats, then every apartment's meters and each building's heat meter and sensors
through the project's seeder (`seed_meters`: about 17,000 smart devices at the default size,
so that a simulated quarter hour of all of them takes about 9 s at 2,000 a second). It starts,
each as its own process:

- a private Mosquitto on --broker-port (bench/ingest.py's: our deploy limits, anonymous,
  loopback), so that nobody else's ingest worker sees these readings;
- `housing ingest` on it (device contract v2, ack after commit);
- the web app with uvicorn, one worker, on --port (`HOUSING_TWIN__LIVE_SECONDS` as set, 2 s
  by default: how often the live hub looks for changes of the watched buildings);
- the incidents and alerts jobs (`detect-incidents`, `detect-alerts`) every --jobs-every seconds.

Then two phases of --seconds each, both with `housing simulate --rate --seconds` publishing
(one process; it starts a day behind the clock, so it publishes as fast as --rate allows):

1. baseline: no stream open: the web process idle beside the same load;
2. --streams logged-in views (an official's bearer token) of --watched buildings (spread over
   the city, the same number of streams each) hold `GET /buildings/{id}/live` open: plain
   asyncio streams (HTTP/1.1, chunked, SSE parsed) in --client-processes processes, each
   opening --ramp streams at a time (0: all at once) and reopening a failed or ended stream
   after 3 s as a browser's EventSource does (the failed attempts are counted). While
   they are open the script commits a marker every 2 s on one watched building after the
   other: a reported incident whose text is new (`bench-marker-N`, the previous one ended),
   and each stream notes when an event carrying that text arrives.

Every second it samples the CPU (%) and resident memory of the web process (psutil), and
the CPU of the ingest worker, the simulator and the stream clients. It prints, per phase:
what the simulator published a second (and what it was asked), the readings and
measurements stored a second, the web process's CPU (mean and peak) and memory (start and
peak), the events delivered a second and the delay from a marker's commit to its event
reaching the streams (p50 and p95; the live hub looks every HOUSING_TWIN__LIVE_SECONDS, so
half that is the floor of the mean).
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import benchkit  # bench/benchkit.py, beside this script
import ingest  # bench/ingest.py: the private broker
import psutil
import psycopg
import twin_map  # bench/twin_map.py: the twin city and its users
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlmodel import Session

from housing import clock
from housing.accounts.models import TokenKind, User
from housing.accounts.service import issue_token
from housing.db import make_engine
from housing.scheduler import run_job
from housing.settings import Settings
from sensors.seeding import seed_meters

MARKER = re.compile(r"bench-marker-(\d+)")
MARKER_EVERY = 2.0
RETRY_SECONDS = 3.0  # the stream's `retry:` hint: a browser's EventSource waits this long to reconnect
SUMMARY = re.compile(r"\b(published|acknowledged|dropped|seconds)=([\d.]+)")  # housing simulate's summary
console = Console(width=None if sys.stdout.isatty() else 132)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+psycopg://user@host:port/database")
    parser.add_argument("--buildings", type=int, default=300)
    parser.add_argument("--apartments", type=int, default=16, help="flats in each building")
    parser.add_argument("--streams", type=int, default=200, help="open building views (SSE streams)")
    parser.add_argument("--watched", type=int, default=20, help="buildings the streams watch")
    parser.add_argument("--rate", type=float, default=2000, help="readings a second the simulator publishes")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--client-processes", type=int, default=2, help="processes holding the streams")
    parser.add_argument(
        "--ramp", type=int, default=10, help="streams a client process opens at a time (0: all at once)"
    )
    parser.add_argument("--jobs-every", type=float, default=15, help="seconds between the jobs' runs")
    parser.add_argument("--port", type=int, default=18965, help="the web server's port")
    parser.add_argument(
        "--broker-port", type=int, default=None, help="the private broker's (default --port + 1)"
    )
    parser.add_argument("--reset", action="store_true", help="drop the schema even if its tables hold rows")
    args, conninfo, server = benchkit.parse(parser, console)
    if benchkit.refuses_to_drop(conninfo, args.url, args.reset, console):
        return 2
    if not shutil.which("mosquitto"):
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    args.broker_port = args.broker_port or args.port + 1
    console.print(
        f"{benchkit.machine(server)}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{twin_map.load()}: {args.buildings:,} buildings of {args.apartments} flats, "
        f"{args.streams} streams on {args.watched} buildings, {args.rate:,.0f} readings/s asked, "
        f"{args.seconds:.0f} s a phase"
    )
    started = time.perf_counter()
    benchkit.fresh_schema(conninfo, args.url)
    settings = twin_map.bench_settings(args.url)
    engine = make_engine(settings)
    try:
        twin_map.seed_city(conninfo, engine, settings, buildings=args.buildings, apartments=args.apartments)
        twin_map.make_map_users(engine, settings)
        console.print(seed_meters(engine, today=clock.local_day(clock.now(), settings.timezone)))
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        token = official_token(engine)
    finally:
        engine.dispose()
    console.print(f"seeded in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(conninfo) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM building ORDER BY id")]
    step = max(1, len(ids) // args.watched)
    watched = ids[::step][: args.watched]

    workdir = Path(tempfile.mkdtemp(prefix="bench-twin-live-"))
    processes = Processes()
    try:
        processes.broker = ingest.start_broker(workdir, args.broker_port)
        processes.ingest = start_ingest(args, workdir)
        processes.web = start_web(args, settings)
        stop_jobs = multiprocessing.Event()
        processes.jobs = multiprocessing.Process(
            target=run_jobs, args=(args.url, args.jobs_every, stop_jobs), daemon=True
        )
        processes.jobs.start()
        phases = [
            ("baseline: no stream", run_phase(args, conninfo, processes, token, [], workdir)),
            (
                f"{args.streams} streams, {len(watched)} buildings",
                run_phase(args, conninfo, processes, token, watched, workdir),
            ),
        ]
        stop_jobs.set()
    finally:
        processes.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(phases, args)
    return 0


def official_token(engine) -> str:
    """A bearer token of the official, issued in the database (no password round)."""
    with Session(engine) as session:
        user = session.execute(select(User).where(User.username == twin_map.OFFICIAL)).scalar_one()
        token, _ = issue_token(
            session, user, kind=TokenKind.api, lifetime=timedelta(days=1), name="twin-live"
        )
        session.commit()
    return token


class Processes:
    """The processes the run starts, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self.broker = self.ingest = self.web = self.jobs = None

    def stop(self) -> None:
        if self.jobs is not None:
            self.jobs.terminate()
            self.jobs.join(30)
        for process in (self.web, self.ingest, self.broker):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()


def start_ingest(args: argparse.Namespace, workdir: Path) -> subprocess.Popen:
    status = workdir / "ingest-status.json"
    env = os.environ | {
        "HOUSING_DB__URL": args.url,
        "HOUSING_MQTT__HOST": "127.0.0.1",
        "HOUSING_MQTT__PORT": str(args.broker_port),
        "HOUSING_MQTT__CLIENT_ID": "bench-twin-ingest-1",
        "HOUSING_MQTT__SESSION_PREFIX": f"bench-twin-{uuid.uuid4().hex[:6]}",
        "HOUSING_MQTT__TOPIC_ROOT": "housing",
        "HOUSING_MQTT__STATUS_FILE": str(status),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "ingest"], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while not (status.exists() and json.loads(status.read_text() or "{}").get("subscribed")):
        if time.monotonic() > deadline or worker.poll() is not None:
            worker.kill()
            raise SystemExit("the ingest worker did not subscribe")
        time.sleep(0.1)
    return worker


def start_web(args: argparse.Namespace, settings: Settings) -> subprocess.Popen:
    env = os.environ | {
        "HOUSING_DB__URL": args.url,
        "HOUSING_AUTH__SECRET_KEY": settings.auth.secret_key.get_secret_value(),
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "housing.app:create_app", "--host", "127.0.0.1",
        "--port", str(args.port), "--workers", "1", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("the web server did not start")


def run_jobs(url: str, every: float, stop) -> None:
    """detect-incidents and detect-alerts every `every` seconds, as the scheduler would, until stopped."""
    settings = Settings(db={"url": url})
    engine = make_engine(settings)
    try:
        while not stop.wait(every):
            for name in ("detect-incidents", "detect-alerts"):
                run_job(settings, name, engine=engine)
    finally:
        engine.dispose()


# One phase


def run_phase(
    args, conninfo: str, processes: Processes, token: str, watched: list[int], workdir: Path
) -> dict:
    streams = args.streams if watched else 0
    stop_clients = multiprocessing.Event()
    ready: multiprocessing.Queue = multiprocessing.Queue()
    results: multiprocessing.Queue = multiprocessing.Queue()
    clients = []
    connected, failures, opening = 0, [], 0.0
    if streams:
        assignments = [watched[i % len(watched)] for i in range(streams)]
        for n in range(args.client_processes):
            mine = assignments[n :: args.client_processes]
            if mine:
                client = multiprocessing.Process(
                    target=stream_clients,
                    args=(args.port, token, mine, args.ramp, ready, stop_clients, results),
                    daemon=True,  # a failed run does not leave them holding streams
                )
                client.start()
                clients.append(client)
        for _ in clients:
            got, failed, seconds = ready.get(timeout=600)
            connected += got
            failures.extend(failed)
            opening = max(opening, seconds)
    sampler = Sampler(processes, clients)
    stored_before = stored_rows(conninfo)
    sampler.start()
    started_at = time.time()
    command = [sys.executable, "-m", "housing.cli", "simulate", "--rate", str(args.rate), "--seconds", str(args.seconds),
               "--host", "127.0.0.1", "--port", str(args.broker_port)]  # fmt: skip
    simulator = subprocess.Popen(
        command,
        env=os.environ
        | {"HOUSING_DB__URL": args.url, "HOUSING_MQTT__TOPIC_ROOT": "housing", "COLUMNS": "400"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    sampler.simulator = simulator.pid
    markers = mark_buildings(conninfo, watched, simulator) if watched else {}
    output = simulator.communicate(timeout=args.seconds + 300)[0]
    ended_at = time.time()
    stored = drained(conninfo) - stored_before
    sampler.stop()
    events: list[tuple] = []
    if clients:
        stop_clients.set()
        for _ in clients:
            events.extend(results.get(timeout=60))
        for client in clients:
            client.join(30)
    summary = {name: float(value) for name, value in SUMMARY.findall(output)}
    published, seconds = summary.get("published", 0), summary.get("seconds", 0)
    window = [e for e in events if started_at <= e[0] <= ended_at]
    return {
        "streams": streams,
        "connected": connected,
        "failures": failures,
        "opening": opening,
        "published": published / seconds if seconds else 0.0,
        "dropped": summary.get("dropped", 0),
        "acknowledged": summary.get("acknowledged", 0),
        "stored": stored / seconds if seconds else 0.0,
        "samples": sampler.samples,
        "events": len(window) / (ended_at - started_at),
        "bytes": sum(e[3] for e in window) / (ended_at - started_at),
        "delays": marker_delays(markers, events),
        "markers": len(markers),
        "summary": ", ".join(f"{k} {v:,.1f}" for k, v in summary.items()) or output[-300:],
    }


def stored_rows(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM reading) + (SELECT count(*) FROM measurement)"
        ).fetchone()[0]


def drained(conninfo: str, wait: float = 20) -> int:
    """The stored rows once the ingest worker has caught up (no new row for a second), at most `wait` s."""
    deadline = time.monotonic() + wait
    count = stored_rows(conninfo)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = stored_rows(conninfo)
        if now == count:
            break
        count = now
    return count


def mark_buildings(
    conninfo: str, watched: list[int], simulator: subprocess.Popen
) -> dict[int, tuple[int, float]]:
    """While the simulator runs: every MARKER_EVERY s a new reported incident `bench-marker-N` on the
    next watched building (its previous marker ended in the same transaction); N -> (building, commit time)."""
    markers: dict[int, tuple[int, float]] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        n = 0
        while simulator.poll() is None:
            time.sleep(MARKER_EVERY)
            building_id = watched[n % len(watched)]
            n += 1
            with conn.transaction():
                conn.execute(
                    "UPDATE service_incident SET ended_at = now() WHERE building_id = %s AND origin LIKE 'bench-marker-%%'"
                    " AND ended_at IS NULL",
                    (building_id,),
                )
                conn.execute(
                    "INSERT INTO service_incident (building_id, utility, source, origin, started_at, detail, created_at)"
                    " VALUES (%s, 'lift', 'report', %s, now() - interval '1 minute', %s, now())",
                    (building_id, f"bench-marker-{n}", f"bench-marker-{n}"),
                )
            markers[n] = (building_id, time.time())
    return markers


def marker_delays(markers: dict[int, tuple[int, float]], events: list[tuple]) -> list[float]:
    """For each marker and each stream of its building: the first event carrying it, less its commit."""
    first: dict[tuple[int, int], float] = {}  # (marker, stream) -> when the stream first saw it
    for at, stream_id, _building, _size, seen in events:
        for n in seen:
            key = (n, stream_id)
            if key not in first or at < first[key]:
                first[key] = at
    return [(at - markers[n][1]) * 1000 for (n, _stream), at in first.items() if n in markers]


class Sampler:
    """Every second: CPU % and RSS of the web process; CPU % of the ingest worker, simulator, clients."""

    def __init__(self, processes: Processes, clients: list) -> None:
        self.web = psutil.Process(processes.web.pid)
        self.others = {
            "ingest": [psutil.Process(processes.ingest.pid)],
            "clients": [psutil.Process(c.pid) for c in clients],
        }
        self.simulator: int | None = None
        self.samples: dict[str, list[float]] = {
            "cpu": [],
            "rss": [],
            "ingest": [],
            "simulator": [],
            "clients": [],
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.web.cpu_percent(None)
        for group in self.others.values():
            for process in group:
                process.cpu_percent(None)
        self.samples["rss"].append(self.web.memory_info().rss / 2**20)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        simulator = None
        while not self._stop.wait(1.0):
            self.samples["cpu"].append(self.web.cpu_percent(None))
            self.samples["rss"].append(self.web.memory_info().rss / 2**20)
            for name, group in self.others.items():
                self.samples[name].append(sum(_cpu(p) for p in group))
            if simulator is None and self.simulator is not None:
                simulator = psutil.Process(self.simulator)
                simulator.cpu_percent(None)
            elif simulator is not None:
                self.samples["simulator"].append(_cpu(simulator))


def _cpu(process: psutil.Process) -> float:
    try:
        return process.cpu_percent(None)
    except psutil.Error:
        return 0.0


# The stream clients (their own processes)


def stream_clients(port: int, token: str, buildings: list[int], ramp: int, ready, stop, results) -> None:
    """Holds one SSE stream per entry of `buildings`; puts how many got their first event on
    `ready`, then, once `stop` is set, its events on `results`: (time, stream, building, bytes, markers)."""
    events: list[tuple] = []
    asyncio.run(_hold(port, token, buildings, ramp, ready, stop, events))
    results.put(events)


async def _hold(port: int, token: str, buildings: list[int], ramp: int, ready, stop, events: list) -> None:
    """Opens the streams `ramp` at a time (all at once when 0), each batch once the one before has
    its first events; reports (streams with a first event, failed attempts, seconds) on `ready`."""
    opened = [0]
    failures: list[str] = []
    offset = os.getpid() * 10_000
    tasks = []
    began = time.monotonic()
    batch = ramp or len(buildings)
    for start in range(0, len(buildings), batch):
        for i, building_id in enumerate(buildings[start : start + batch], start):
            tasks.append(
                asyncio.create_task(_keep(port, token, building_id, offset + i, events, opened, failures))
            )
        deadline = time.monotonic() + 90
        while opened[0] < len(tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    ready.put((opened[0], failures, time.monotonic() - began))
    while not stop.is_set():
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _keep(
    port: int, token: str, building_id: int, stream_id: int, events: list, opened: list, failures: list
):
    """One view's stream, reconnected after RETRY_SECONDS when it fails or ends, as a browser's EventSource."""
    first = [False]

    def on_first() -> None:
        if not first[0]:
            first[0] = True
            opened[0] += 1

    while True:
        try:
            await _stream(port, token, building_id, stream_id, events, on_first)
        except (OSError, RuntimeError, asyncio.IncompleteReadError, ValueError) as exc:
            failures.append(str(exc)[:80])
        await asyncio.sleep(RETRY_SECONDS)


async def _stream(port: int, token: str, building_id: int, stream_id: int, events: list, on_first) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /buildings/{building_id}/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\nAccept-Language: en\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise RuntimeError(f"stream of building {building_id}: {status!r}")
    chunked = b"transfer-encoding: chunked" in head.lower()
    buffer = ""
    got_first = False
    try:
        while True:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    return
                data = await reader.readexactly(size + 2)
                text = data[:-2].decode()
            else:
                text = (await reader.read(65536)).decode()
                if not text:
                    return
            arrived = time.time()
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                data_lines = [line[5:] for line in block.split("\n") if line.startswith("data:")]
                if not data_lines:
                    continue  # the retry hint or a keep-alive comment
                body = "\n".join(data_lines)
                seen = tuple(int(n) for n in set(MARKER.findall(body)))
                events.append((arrived, stream_id, building_id, len(body), seen))
                if not got_first:
                    got_first = True
                    on_first()
    finally:
        writer.close()


# The report


def report(phases: list[tuple[str, dict]], args) -> None:
    table = Table(
        title=f"Live building views while the simulator publishes ({args.rate:,.0f}/s asked), {args.seconds:.0f} s a phase"
    )
    for name in (
        "phase", "published/s", "stored/s", "web CPU% mean", "web CPU% peak", "web RSS MiB start", "web RSS MiB peak",
        "events/s", "KiB/s", "delay p50 ms", "delay p95 ms",
    ):  # fmt: skip
        table.add_column(
            name, justify="left" if name == "phase" else "right", no_wrap=name in ("phase", "published/s")
        )
    for label, phase in phases:
        cpu, rss, delays = phase["samples"]["cpu"], phase["samples"]["rss"], phase["delays"]
        table.add_row(
            label,
            f"{phase['published']:,.0f}",
            f"{phase['stored']:,.0f}",
            f"{statistics.mean(cpu):.0f}" if cpu else "",
            f"{max(cpu):.0f}" if cpu else "",
            f"{rss[0]:.0f}",
            f"{max(rss):.0f}",
            f"{phase['events']:,.1f}" if phase["streams"] else "",
            f"{phase['bytes'] / 1024:,.0f}" if phase["streams"] else "",
            f"{twin_map.p(delays, 50):,.0f}" if delays else "",
            f"{twin_map.p(delays, 95):,.0f}" if delays else "",
        )
    console.print(table)
    for label, phase in phases:
        samples = phase["samples"]
        means = ", ".join(
            f"{name} {statistics.mean(samples[name]):.0f}%"
            for name in ("ingest", "simulator", "clients")
            if samples[name]
        )
        console.print(f"{label}: mean CPU of the other processes: {means}; {phase['markers']} markers")
        if phase["streams"]:
            console.print(
                f"  {phase['connected']} of {phase['streams']} streams had their first event {phase['opening']:.1f} s after"
                f" the first was opened ({args.ramp or 'all'} at a time a process); {len(phase['failures'])} failed"
                f" attempts{': ' + '; '.join(sorted(set(phase['failures']))[:3]) if phase['failures'] else ''}"
            )
        console.print(f"  simulator: {phase['summary']}")
    console.print(f"load average at the end: {twin_map.load()}")


if __name__ == "__main__":
    sys.exit(main())
