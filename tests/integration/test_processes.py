"""The processes a deployment runs, started as a user would start them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from housing.cli import app as cli
from housing.migrate import alembic_config
from tests.conftest import TEST_SECRET


def _env(database_url: str, **extra: str) -> dict[str, str]:
    return (
        os.environ
        | {
            "HOUSING_ENVIRONMENT": "test",
            "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
            "HOUSING_DB__URL": database_url,
        }
        | extra
    )


def test_worker_beats_and_stops_cleanly_on_sigterm(database_url, db, tmp_path: Path):
    heartbeat = tmp_path / "beat"
    worker = subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "worker"],
        env=_env(database_url, HOUSING_SCHEDULER__HEARTBEAT_FILE=str(heartbeat)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert heartbeat.exists(), "the worker never wrote its heartbeat"
        health = CliRunner().invoke(
            cli,
            ["health", "worker"],
            env=_env(database_url, HOUSING_SCHEDULER__HEARTBEAT_FILE=str(heartbeat)),
        )
        assert health.exit_code == 0, health.output
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "scheduler started" in output


def test_health_check_fails_without_a_heartbeat(tmp_path: Path, database_url):
    result = CliRunner().invoke(
        cli,
        ["health", "worker"],
        env=_env(database_url, HOUSING_SCHEDULER__HEARTBEAT_FILE=str(tmp_path / "none")),
    )
    assert result.exit_code == 1
    assert "missing" in result.output


def test_db_upgrade_on_a_fresh_sqlite_file(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=_env(url))
    assert result.exit_code == 0, result.output
    current = subprocess.run(
        [sys.executable, "-m", "housing.cli", "db", "current"],
        env=_env(url),
        capture_output=True,
        text=True,
        check=True,
    )
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"Rev: {head} (head)" in current.stdout + current.stderr


def test_production_refuses_the_default_secret(tmp_path: Path):
    env = _env(f"sqlite:///{tmp_path / 'x.db'}", HOUSING_ENVIRONMENT="production")
    env["HOUSING_AUTH__SECRET_KEY"] = None  # unset, even if the caller has one
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert "HOUSING_AUTH__SECRET_KEY" in result.output
