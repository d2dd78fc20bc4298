"""The newcomer's path: `housing demo` on a fresh SQLite file, as the README says."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

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
                if _get(f"{base}/healthz")["status"] == "ok":
                    break
            except OSError:
                time.sleep(0.2)
        form = urllib.parse.urlencode({"username": "demo-resident", "password": password.group(1)}).encode()
        with urllib.request.urlopen(f"{base}/api/v1/auth/token", data=form, timeout=10) as response:
            token = json.load(response)["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert _get(f"{base}/api/v1/apartments", headers)["total"] >= 1
        assert _get(f"{base}/api/v1/meters", headers)["total"] >= 1
        assert _get(f"{base}/api/v1/announcements", headers)["total"] == 3  # pinned, urgent, city-wide
        kinds = {n["kind"] for n in _get(f"{base}/api/v1/notifications", headers)["items"]}
        assert {"invoice_issued", "announcement"} <= kinds, kinds  # last month's bill is in the inbox
        assert {"meeting_notice", "meeting_result"} <= kinds, kinds  # the owners' meetings told the owner
        with sqlite3.connect(database) as connection:
            meetings = dict(connection.execute("SELECT status, ballots FROM meeting").fetchall())
            plans = connection.execute(
                "SELECT count(*) FROM instalment_plan WHERE status = 'active'"
            ).fetchone()[0]
            differences = connection.execute("SELECT kind FROM reconciliation_difference").fetchall()
            grades = dict(
                connection.execute("SELECT grade, count(*) FROM building_grade GROUP BY grade").fetchall()
            )
            changed = connection.execute(
                "SELECT count(*) FROM building_grade_change WHERE previous IS NOT NULL AND previous != grade"
            ).fetchone()[0]
        assert meetings.keys() == {"closed", "published"} and meetings["published"] > 0, meetings
        assert plans == 1  # a debtor of the demo building keeps to a schedule
        assert differences == [("missing_in_ours",)]  # yesterday's, on the reconciliation page
        assert {"green", "yellow", "red"} <= grades.keys(), grades  # the twin graded the city, for reasons
        assert changed >= 2, changed  # buildings that changed grade this week
        building_id = _get(f"{base}/api/v1/apartments", headers)["items"][0]["building_id"]
        reports = _get(f"{base}/api/v1/buildings/{building_id}/reports", headers)
        assert len(reports) == 1, reports  # last quarter's, billed, mostly paid and spent
        assert (
            reports[0]["income_minor"] > 0 and reports[0]["expenses_minor"] > 0 and reports[0]["on_time"]
        ), reports

        started = time.monotonic()
        fresh = 0
        while time.monotonic() - started < 60 and fresh == 0:  # 17 broker sessions come up first
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


def _get(url: str, headers: dict[str, str] | None = None) -> dict:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
