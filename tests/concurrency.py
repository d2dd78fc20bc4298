"""Helpers of the tests that race transactions on PostgreSQL: calls started together in threads,
and the wait until one of them is blocked on a lock."""

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

DEADLINE = 20  # seconds


def run_together(*calls: Callable[[], object], deadline: float = DEADLINE) -> list[object]:
    """Runs each call in its own thread from one barrier; returns each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # the refusal is the result
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline)
    return results


def wait_until_blocked(db: Engine, failure: str, deadline: float = DEADLINE, sessions: int = 1) -> None:
    """Until `sessions` sessions of this database wait on a lock, or fail with `failure`."""
    ends = time.monotonic() + deadline
    with db.connect() as connection:
        while time.monotonic() < ends:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting >= sessions:
                return
            connection.commit()
            time.sleep(0.02)  # polling interval, not the proof: the proof is the lock wait seen
    pytest.fail(failure)
