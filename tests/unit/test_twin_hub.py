"""The live hub without a web server: one render per building, audience and language for all
their subscribers; a building whose render fails leaves the others live; the thread ends with
the last subscriber. Waits have deadlines; the renderer counts its calls."""

import asyncio
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from housing.errors import Unavailable
from housing.twin.live import LiveHub, Update, event_text
from tests.factories.core import make_building


def run_in_own_loop(coroutine):
    """`asyncio.run` in a thread of its own: in the whole suite the browser tests' Playwright keeps
    an event loop running in the main thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Renderer:
    def __init__(self, failing: set[int] = frozenset()) -> None:
        self.calls: Counter = Counter()
        self.failing = failing
        self.lock = threading.Lock()

    def __call__(self, session, building_id, audience, language):
        with self.lock:
            self.calls[(building_id, audience, language)] += 1
        if building_id in self.failing:
            raise RuntimeError("a broken template")
        return f"<p>{building_id} {audience} {language}</p>"


@pytest.fixture
def buildings(session):
    made = [make_building(session), make_building(session)]
    session.commit()
    return [b.id for b in made]


def _hub(db, render, max_streams=10) -> LiveHub:
    return LiveHub(db, render, interval=0.2, max_streams=max_streams, timezone="Asia/Tashkent")


def test_one_render_per_building_audience_and_language(db, buildings):
    render = Renderer()
    hub = _hub(db, render)
    first, second = buildings

    async def watch():
        subs = [
            hub.subscribe(first, "full", "uz", None),
            hub.subscribe(first, "full", "uz", None),
            hub.subscribe(first, "full", "uz", None),
            hub.subscribe(first, "resident", "uz", None),
            hub.subscribe(first, "full", "ru", None),
            hub.subscribe(second, "full", "uz", None),
        ]
        got = [await asyncio.wait_for(s.queue.get(), 10) for s in subs]
        for s in subs:
            hub.unsubscribe(s)
        return got

    try:
        got = run_in_own_loop(watch())
    finally:
        hub.stop()
    assert [u.html for u in got[:3]] == [f"<p>{first} full uz</p>"] * 3
    assert got[3].html == f"<p>{first} resident uz</p>" and got[4].html == f"<p>{first} full ru</p>"
    assert len({u.id for u in got[:5]}) == 1  # the building's fingerprint
    assert set(render.calls.values()) == {1}
    assert len(render.calls) == 4


def test_a_failing_building_leaves_the_others_live_and_the_thread_ends(db, buildings):
    broken, fine = buildings
    render = Renderer(failing={broken})
    hub = _hub(db, render)

    async def watch():
        bad = hub.subscribe(broken, "full", "en", None)
        good = hub.subscribe(fine, "full", "en", None)
        update = await asyncio.wait_for(good.queue.get(), 10)
        assert bad.queue.empty()
        hub.unsubscribe(bad)
        hub.unsubscribe(good)
        return update

    try:
        update = run_in_own_loop(watch())
        assert update.html == f"<p>{fine} full en</p>"
        hub_thread_gone = threading.Event()

        def gone():
            while hub.running:
                threading.Event().wait(0.05)
            hub_thread_gone.set()

        threading.Thread(target=gone, daemon=True).start()
        assert hub_thread_gone.wait(10), "the thread did not end with the last subscriber"
    finally:
        hub.stop()


def test_the_bound_and_a_stopped_hub_refuse(db, buildings):
    hub = _hub(db, Renderer(), max_streams=1)

    async def watch():
        hub.subscribe(buildings[0], "full", "en", None)
        with pytest.raises(Unavailable) as refused:
            hub.subscribe(buildings[0], "full", "en", None)
        assert refused.value.extra["retry_after"] > 0

    try:
        run_in_own_loop(watch())
    finally:
        hub.stop()
    assert not hub.running and hub.streams == 0


def test_an_event_is_an_id_then_one_data_line_per_line_of_html():
    text = event_text(Update("abc123", "<p>one</p>\n<p>two</p>"))
    assert text == "id: abc123\ndata: <p>one</p>\ndata: <p>two</p>\n\n"
    assert event_text(Update("x", "")) == "id: x\ndata: \n\n"
