"""`housing health ingest`: which status of an ingest process is unhealthy, and where it is found."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from housing.cli import app as cli
from housing.settings import MqttSettings
from sensors.ingest.worker import ingest_problems
from tests.conftest import TEST_SECRET

NOW = 1_800_000_000.0


def status(**overrides) -> dict:
    base = {
        "at": NOW - 1,
        "connected": True,
        "waiting": 0,
        "oldest_waiting_s": 0.0,
        "started_at": NOW - 3600,
        "last_commit_at": NOW - 2,
        "last_database_error_at": None,
        "last_database_error": "",
    }
    return base | overrides


def problems(**overrides) -> list[str]:
    return ingest_problems(status(**overrides), now=NOW, max_age=30, stall_after=60)


def test_a_busy_worker_and_an_idle_one_are_healthy():
    assert problems() == []
    assert problems(waiting=5000, oldest_waiting_s=0.4) == []
    # Nothing waits: no commit for a day is just a quiet night, not a fault.
    assert problems(last_commit_at=NOW - 86400) == []
    assert problems(last_commit_at=None) == []


@pytest.mark.parametrize(("since_commit", "sick"), [(59, False), (60, False), (61, True), (10**9, True)])
def test_messages_waiting_with_no_commit_for_longer_than_the_limit_is_a_stall(since_commit, sick):
    found = problems(waiting=1, oldest_waiting_s=since_commit, last_commit_at=NOW - since_commit)
    assert bool(found) is sick
    if sick:
        assert "1 messages wait" in found[0] and "nothing was committed" in found[0]


def test_a_worker_that_never_committed_counts_from_its_start():
    assert problems(waiting=3, last_commit_at=None, started_at=NOW - 30) == []
    assert problems(waiting=3, last_commit_at=None, started_at=NOW - 61)


def test_a_database_error_after_the_last_commit_is_unhealthy_until_the_next_commit():
    error = {"last_database_error": "connection refused"}
    assert (
        "connection refused" in problems(last_database_error_at=NOW - 1, last_commit_at=NOW - 5, **error)[0]
    )
    assert problems(last_database_error_at=NOW - 1, last_commit_at=None, **error)
    assert problems(last_database_error_at=NOW - 5, last_commit_at=NOW - 1, **error) == []


def test_a_stale_status_or_a_lost_broker_is_unhealthy():
    assert "old" in problems(at=NOW - 31)[0]
    assert problems(at=NOW - 29) == []
    assert "not connected" in problems(connected=False)[0]
    assert problems(at=0)  # absurd: a status from 1970


def test_the_status_file_defaults_to_one_path_per_client_id():
    one, two = MqttSettings(client_id="ingest-1"), MqttSettings(client_id="ingest-2")
    assert one.status_path != two.status_path
    assert one.status_path == Path("/tmp/housing-ingest-ingest-1.status.json")  # noqa: S108
    hostile = MqttSettings(client_id="../../etc/passwd\x1b\n")
    assert hostile.status_path.parent == Path("/tmp")  # noqa: S108
    assert "/" not in hostile.status_path.name and "\n" not in hostile.status_path.name
    assert MqttSettings(client_id="x", status_file=Path("/srv/s.json")).status_path == Path("/srv/s.json")


def _health(tmp_path, content: str | None, **env) -> tuple[int, str]:
    path = tmp_path / "status.json"
    path.unlink(missing_ok=True)
    if content is not None:
        path.write_text(content)
    environment = {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_MQTT__STATUS_FILE": str(path),
    } | env
    result = CliRunner().invoke(cli, ["health", "ingest"], env=environment)
    return result.exit_code, result.output


def test_health_command_exit_codes(tmp_path):
    import time

    now = time.time()
    fresh = status(at=now, started_at=now - 100, last_commit_at=now - 1)
    assert _health(tmp_path, json.dumps(fresh))[0] == 0
    stalled = fresh | {"waiting": 7, "last_commit_at": now - 20}
    assert _health(tmp_path, json.dumps(stalled))[0] == 0  # under the default 60 s
    code, output = _health(tmp_path, json.dumps(stalled), HOUSING_MQTT__STALL_AFTER_S="10")
    assert code == 1 and "nothing was committed" in output
    assert _health(tmp_path, None)[0] == 1
    assert _health(tmp_path, "{half a fi")[0] == 1
