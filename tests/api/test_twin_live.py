"""The building view's live stream against a real server (uvicorn on a test port).

A change in the data reaches a connected client within a few looks; an unchanged building
sends nothing but keep-alives; a reconnect with Last-Event-ID gets the state only when it
changed; the hub's thread runs only while someone watches; the number of streams is bounded.
Every wait has a deadline and waits for an event (a line on the stream, the hub's look count).
"""

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import requests
from sqlmodel import Session

from housing.accounts.models import User
from housing.app import create_app
from sensors.models import AlertKind
from tests.api import test_twin_view
from tests.api.conftest import City
from tests.conftest import make_settings
from tests.factories.core import login
from tests.factories.sensors import make_meter
from tests.factories.twin import add_alert
from tests.servers import listening_socket, serving_in_thread

twin = test_twin_view.twin  # a fixture, found by name
LOOK = 0.2  # settings.twin.live_seconds in these tests
DEADLINE = 15.0


@pytest.fixture
def live_app(database_url, db):
    settings = make_settings(database_url, twin={"live_seconds": LOOK, "live_streams": 3})
    app = create_app(settings, engine=db)
    app.state.live.keep_alive = 0.5
    yield app
    app.state.live.stop()


@pytest.fixture
def site(live_app) -> Iterator[str]:
    with serving_in_thread(live_app, listening_socket()) as url:
        yield url


@dataclass
class Event:
    id: str | None = None
    data: list[str] = field(default_factory=list)
    comment: bool = False


class Stream:
    """An SSE client reading in a thread; the test takes events from a queue with a deadline."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.opened = threading.Event()
        self._client = requests.Session()
        self._response: requests.Response | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()
        assert self.opened.wait(DEADLINE), "the stream did not answer"

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            response = self._client.get(url, headers=headers, stream=True, timeout=(5, 30))
            self._response = response
            self.status, self.headers = response.status_code, response.headers
            self.opened.set()
            if response.status_code != 200:
                return
            event, pending = Event(), ""
            for chunk in response.iter_content(chunk_size=None, decode_unicode=True):  # as it arrives
                pending += chunk
                *lines, pending = pending.split("\n")
                for line in lines:
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        self.events.put(Event(comment=True))
                    elif line.startswith("id: "):
                        event.id = line[4:]
                    elif line.startswith("data: "):
                        event.data.append(line[6:])
                    elif line == "" and (event.id or event.data):
                        self.events.put(event)
                        event = Event()
        except (requests.RequestException, AttributeError, ValueError, OSError):
            pass  # closed by the test
        finally:
            self.opened.set()

    def next_state(self, timeout: float = DEADLINE) -> Event:
        """The next event with data, skipping keep-alives."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no state arrived in time"
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                pytest.fail("no state arrived in time")
            if not event.comment:
                return event

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            # Shut the socket so the reader's blocked read returns; closing alone does not wake it.
            with contextlib.suppress(AttributeError, OSError):
                self._response.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
            self._response.close()
        self._client.close()
        self._thread.join(5)


@contextmanager
def streaming(url: str, headers: dict[str, str]) -> Iterator[Stream]:
    stream = Stream(url, headers)
    try:
        yield stream
    finally:
        stream.close()


def _wait_for(condition, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_new_leak_reaches_an_open_view(site, live_app, db, city: City, twin):
    url = f"{site}/buildings/{twin.building.id}/live"
    with streaming(url, city.headers["manager"]) as stream:
        assert stream.status == 200 and stream.headers["content-type"].startswith("text/event-stream")
        first = stream.next_state()
        assert first.id and any(f'data-apartment="{twin.apartments["4"].id}"' in line for line in first.data)
        target = twin.apartments["4"]
        with Session(db) as session:
            add_alert(session, make_meter(session, target).id, AlertKind.leak)
            session.commit()
        second = stream.next_state()
        assert second.id != first.id
        html = "\n".join(second.data)
        assert f'data-apartment="{target.id}" data-marks="leak"' in html


def test_an_unchanged_building_sends_only_keep_alives(site, live_app, city: City, twin):
    hub = live_app.state.live
    with streaming(f"{site}/buildings/{twin.building.id}/live", city.headers["official"]) as stream:
        stream.next_state()
        looks = hub.looks
        _wait_for(lambda: hub.looks >= looks + 5, "five more looks")
        while not stream.events.empty():
            event = stream.events.get_nowait()
            assert event.comment, f"an unchanged building sent a state: {event.id}"
        _wait_for(lambda: not stream.events.empty(), "a keep-alive")
        assert stream.events.get_nowait().comment


def test_a_reconnect_resumes_with_the_last_event_id(site, live_app, db, city: City, twin):
    hub = live_app.state.live
    url = f"{site}/buildings/{twin.building.id}/live"
    headers = city.headers["manager"]
    with streaming(url, headers) as stream:
        seen = stream.next_state().id
    with streaming(url, headers | {"Last-Event-ID": seen}) as stream:
        looks = hub.looks
        _wait_for(lambda: hub.looks >= looks + 3, "three looks")
        assert all(stream.events.get_nowait().comment for _ in range(stream.events.qsize()))
        with Session(db) as session:  # changes while connected still arrive
            add_alert(session, make_meter(session, twin.apartments["6"]).id, AlertKind.stale)
            session.commit()
        assert stream.next_state().id != seen
    with streaming(url, headers | {"Last-Event-ID": "an-old-state"}) as stream:
        assert stream.next_state().id not in (None, "an-old-state")


def test_the_thread_runs_only_while_someone_watches(site, live_app, city: City, twin):
    hub = live_app.state.live
    assert not hub.running
    url = f"{site}/buildings/{twin.building.id}/live"
    with streaming(url, city.headers["manager"]) as one, streaming(url, city.headers["official"]) as two:
        one.next_state()
        two.next_state()
        assert hub.running and hub.streams == 2
    _wait_for(lambda: hub.streams == 0, "both streams dropped")
    _wait_for(lambda: not hub.running, "the thread to end")
    with streaming(url, city.headers["manager"]) as again:  # and it starts again
        again.next_state()
        assert hub.running


def test_beyond_the_bound_a_stream_is_refused_with_retry_after(site, live_app, city: City, twin):
    url = f"{site}/buildings/{twin.building.id}/live"
    headers = city.headers["manager"]
    with (
        streaming(url, headers),
        streaming(url, headers),
        streaming(url, headers),
        streaming(url, headers | {"Accept": "application/json"}) as refused,
    ):
        assert refused.status == 503
        assert int(refused.headers["retry-after"]) > 0


def test_another_companys_staff_cannot_open_the_stream(site, city: City, twin):
    with streaming(f"{site}/buildings/{twin.building.id}/live", city.headers["manager_b"]) as stream:
        assert stream.status == 404


def test_a_residents_stream_shows_no_debt_and_no_neighbours_request(site, client, session, twin):
    user = session.get(User, twin.resident_id)
    headers = login(client, user.username)
    with streaming(f"{site}/buildings/{twin.building.id}/live", headers) as stream:
        html = "\n".join(stream.next_state().data)
    assert 'data-marks="leak"' in html
    assert "mark-debt" not in html and "mark-request" not in html
    assert f'data-request="{twin.request.id}"' not in html
    assert f'data-request="{twin.common_request.id}"' in html


def test_the_hub_can_watch_again_after_a_stop(site, live_app, city: City, twin):
    live_app.state.live.stop()
    with streaming(f"{site}/buildings/{twin.building.id}/live", city.headers["manager"]) as stream:
        assert stream.next_state().id
