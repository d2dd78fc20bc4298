"""A burst of more requests than the database pool holds connections is served, not stalled.

Each sync dependency of a route runs in a thread of its own while the request keeps its
connection; without `housing.inflight.RequestsInFlight`, 40 threads waiting for connections
held by requests waiting for a thread stalled the process until the pool timed out
(docs/benchmarks.md, 200 live views reconnecting). Here the pool keeps 2 connections and a
burst of pages, JSON reads and live streams opened all at once must all be answered.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from housing.app import create_app
from housing.db import make_engine
from tests.api import test_twin_view
from tests.api.conftest import City
from tests.conftest import make_settings
from tests.servers import listening_socket, serving_in_thread

twin = test_twin_view.twin  # a fixture, found by name
BURST = 120
DEADLINE = 60.0  # the pool's own timeout is 30 s: a stalled burst fails its requests well before


@pytest.fixture
def small_pool_site(database_url, db):
    settings = make_settings(database_url, twin={"live_seconds": 0.2})
    settings.db.pool_size = 2
    engine = make_engine(settings)
    app = create_app(settings, engine=engine)
    try:
        with serving_in_thread(app, listening_socket()) as url:
            yield url
    finally:
        app.state.live.stop()
        engine.dispose()


def _first_bytes(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """The status, and for a stream its first event's first line (then it is closed)."""
    with requests.get(url, headers=headers, stream=True, timeout=(DEADLINE, DEADLINE)) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("id: "):
                    return response.status_code, line
            return response.status_code, "the stream ended without an event"
        return response.status_code, response.text[:80]


def test_a_burst_larger_than_the_pool_is_answered_in_full(small_pool_site, city: City, twin):
    building = twin.building.id
    paths = [f"/buildings/{building}", f"/api/v1/buildings/{building}/state", f"/buildings/{building}/live"]
    asked = [(small_pool_site + paths[i % len(paths)], city.headers["manager"]) for i in range(BURST)]
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(lambda job: _first_bytes(*job), asked))
    assert [status for status, _ in answers] == [200] * BURST, answers
    streams = [
        first for (status, first), (url, _) in zip(answers, asked, strict=True) if url.endswith("/live")
    ]
    assert len(streams) == BURST // 3
    assert all(first.startswith("id: ") for first in streams), streams
