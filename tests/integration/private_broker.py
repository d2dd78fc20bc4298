"""A private Mosquitto for tests that restart the broker: own port, own config, own persistence file.

The configuration keeps what deploy/mosquitto/mosquitto.conf says about queues,
persistence and session expiry (the limits that decide whether readings are lost), on a
loopback port of 18830-18839, anonymous, with the persistence file in the test's tmp dir.
stop() sends SIGTERM (mosquitto saves its database then), start() runs it again on the
same file.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(18830, 18840)
KEPT = (
    "max_queued_messages",
    "max_queued_bytes",
    "queue_qos0_messages",
    "max_inflight_messages",
    "persistent_client_expiration",
    "max_packet_size",
    "persistence ",
    "autosave_interval",
)


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            # As mosquitto binds: a port whose last connections linger in TIME_WAIT (a broker
            # stopped a minute ago) is free to listen on, not taken.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1} for a private broker")


class PrivateMosquitto:
    def __init__(self, workdir: Path, port: int | None = None, *, extra: list[str] | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log = workdir / "mosquitto.log"
        self.persistence = workdir / "mosquitto.db"
        base = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text().splitlines()
        kept = [line for line in base if line.strip().startswith(KEPT)]
        assert any(line.startswith("max_queued_messages") for line in kept), "deploy config changed shape"
        lines = [
            f"listener {self.port} {self.host}",
            *(extra or ["allow_anonymous true"]),
            *kept,
            f"persistence_location {workdir}/",
            "persistence_file mosquitto.db",
            f"log_dest file {self.log}",
            "log_type all",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # mosquitto would switch to 'mosquitto', who cannot write tmp_path
        self.config = workdir / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 10) -> None:
        assert self.process is None, "already running"
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {self.log.read_text()}")
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not answer on port {self.port} within {timeout} s")

    def _answers(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, as `docker stop` sends it: mosquitto saves sessions and queues, then exits."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        process.wait(timeout)
        assert process.returncode == 0, f"mosquitto exited with {process.returncode}"
        assert self.persistence.exists(), "mosquitto did not save its persistence file"

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def private_broker(tmp_path: Path):
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = PrivateMosquitto(workdir)
    broker.start()
    try:
        yield broker
    finally:
        if broker.process is not None:
            broker.process.send_signal(signal.SIGTERM)
            broker.process.wait(20)
