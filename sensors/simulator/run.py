"""`housing simulate`: load the seeded devices, build the rounds, publish until done or stopped."""

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from types import FrameType

from sqlalchemy import Engine

from housing.db import make_engine, utcnow
from housing.settings import Settings
from sensors.simulator.devices import default_start, load_devices
from sensors.simulator.messages import Fault, local_iso, parse_faults
from sensors.simulator.publisher import Publisher
from sensors.simulator.rounds import SimulationSummary, Simulator

log = logging.getLogger(__name__)


def run_simulator(
    settings: Settings,
    *,
    rate: float,
    seconds: float | None = None,
    count: int | None = None,
    faults: Iterable[Fault | str] = (),
    start: datetime | None = None,
    protocol: int | None = None,
    host: str | None = None,
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
    rng_seed: int = 2026,
    engine: Engine | None = None,
    stop: threading.Event | None = None,
    contract: str = "v2",
) -> SimulationSummary:
    """`housing simulate`: loads the seeded devices and publishes until done or SIGINT/SIGTERM.

    Broker, port and protocol default to the MQTT settings (127.0.0.1 when no host is set);
    credentials are the simulator's own, not the ingest worker's.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    if count is not None and count < 1:
        raise ValueError("count must be at least 1")
    if seconds is not None and seconds <= 0:
        raise ValueError("seconds must be positive")
    fault_set = parse_faults(faults)
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        devices = load_devices(engine)
    finally:
        if own_engine:
            engine.dispose()
    if not devices:
        raise ValueError("no smart meters or sensors to simulate; seed meters first")
    simulator = Simulator(
        devices,
        prefix=settings.mqtt.topic_root,
        contract=contract,
        start=start if start is not None else default_start(devices, utcnow()),
        faults=fault_set,
        rng_seed=rng_seed,
        max_payload_bytes=settings.mqtt.max_payload_bytes,
    )
    publisher = Publisher(
        host=host or settings.mqtt.host or "127.0.0.1",
        port=port or settings.mqtt.port,
        protocol=protocol or settings.mqtt.protocol,
        username=username,
        password=password,
    )
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    try:
        publisher.connect()
        log.info(
            "simulating %d devices from %s at %s msg/s%s",
            len(devices),
            local_iso(simulator.start),
            rate,
            f" with faults {sorted(f.value for f in fault_set)}" if fault_set else "",
        )
        return simulator.run(publisher, rate=rate, seconds=seconds, count=count, stop=stop)
    finally:
        publisher.close()
        restore()


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop` (main thread only); returns what restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
