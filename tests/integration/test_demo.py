"""The newcomer's path: `housing demo` on a fresh SQLite file, as the README says."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from housing.demo import free_port


def test_demo_serves_logins_and_readings_arrive_within_seconds(tmp_path: Path):
    database = tmp_path / "demo.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOUSING_")}
    env |= {
        "HOUSING_DB__URL": f"sqlite:///{database}",
        "HOUSING_MQTT__STATUS_FILE": str(tmp_path / "ingest.json"),
        "HOUSING_SCHEDULER__HEARTBEAT_FILE": str(tmp_path / "beat"),
        "COLUMNS": "120",
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    output = []
    try:
        for line in demo.stdout:
            output.append(line)
            if "Open http" in line:
                break
        text = "".join(output)
        password = re.search(r"demo-resident\s*│\s*(\S+)", text)
        assert password, text
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "demo-resident", "password": password.group(1)}
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        homes = httpx.get(f"{base}/api/v1/apartments", headers=headers).json()
        assert homes["total"] >= 1
        meters = httpx.get(f"{base}/api/v1/meters", headers=headers).json()
        assert meters["total"] >= 1

        started = time.monotonic()
        fresh = 0
        while time.monotonic() - started < 30 and fresh == 0:
            time.sleep(1)
            with sqlite3.connect(database) as connection:
                fresh = connection.execute(
                    "SELECT count(*) FROM reading WHERE source = 'mqtt' AND received_at > datetime('now', '-1 minute')"
                ).fetchone()[0]
        assert fresh > 0, "no reading came through the embedded broker and the ingest worker"
    finally:
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, "".join(output) + rest
