"""Live updates of open building views: one hub per web process, one thread while anyone watches.

Each browser showing a building view holds a server-sent-events stream (`GET
/buildings/{id}/live`). The hub keeps those streams' subscriptions; a daemon thread, started
with the first subscription and ending with the last, looks every `settings.twin.live_seconds`
for changes of all the watched buildings at once (`housing.twin.changes.fingerprints`, a
fixed set of grouped queries). For a building whose fingerprint moved it renders the live
fragment once per audience (full or resident view, language) and hands that to each
subscriber's asyncio queue from the thread (`loop.call_soon_threadsafe`). A subscriber
keeps the fingerprint it was last sent, so a new or reconnecting one (its Last-Event-ID)
gets the current state at the next look, which its subscription triggers at once, unless
it already has it.

Nothing here reads a request: the stream route (`housing.twin.pages`) checks access before
subscribing. The design and its cost: docs/digital-twin.md.
"""

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session

from housing import clock
from housing.errors import Unavailable
from housing.twin.changes import LedgerCursor, fingerprints

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
RETRY_MS = 3000  # the browser's wait before it reconnects a dropped stream
BUSY_RETRY_SECONDS = 30  # Retry-After when the process holds all the streams it may

# (session, building id, audience, language) -> the live fragment's HTML, or None when the
# building is gone. Rendered once per audience and language for all their subscribers.
Renderer = Callable[[Session, int, str, str], str | None]


@dataclass(frozen=True, slots=True)
class Update:
    id: str  # the building's fingerprint: the SSE event id
    html: str


@dataclass(eq=False)
class Subscription:
    building_id: int
    audience: str
    language: str
    loop: asyncio.AbstractEventLoop
    seen: str | None = None  # the fingerprint this client has (Last-Event-ID at first)
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1))


def _offer(queue: asyncio.Queue, update: Update | None) -> None:
    """Runs in the stream's loop: only the newest state matters, so an unsent one is replaced."""
    while queue.full():
        queue.get_nowait()
    queue.put_nowait(update)


class LiveHub:
    """Subscriptions of one web process and the thread that feeds them."""

    def __init__(self, engine: Engine, render: Renderer, *, interval: float, max_streams: int, timezone: str):
        self.engine = engine
        self.render = render
        self.interval = interval
        self.max_streams = max_streams
        self.timezone = timezone
        self.keep_alive = KEEP_ALIVE_SECONDS
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._ledger = LedgerCursor()
        # The last fragment rendered per (building, audience, language), for viewers who join
        # while it is current: only the hub's thread touches it.
        self._rendered: dict[tuple[int, str, str], Update] = {}
        self.looks = 0  # how many times the thread looked for changes (for tests and the benchmark)

    @property
    def streams(self) -> int:
        return len(self._subscriptions)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def subscribe(
        self, building_id: int, audience: str, language: str, last_seen: str | None
    ) -> Subscription:
        """Called from the stream's event loop; 503 (Unavailable) when the process is full."""
        subscription = Subscription(building_id, audience, language, asyncio.get_running_loop(), last_seen)
        with self._lock:
            if self._stopped:
                raise Unavailable("the server is stopping", retry_after=BUSY_RETRY_SECONDS)
            if len(self._subscriptions) >= self.max_streams:
                raise Unavailable(
                    "too many live building views open on this server; the page still shows the state"
                    " as it was read, and live updates resume later",
                    retry_after=BUSY_RETRY_SECONDS,
                )
            self._subscriptions.add(subscription)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="twin-live", daemon=True)
                self._thread.start()
        self._wake.set()  # the current state now, not at the next look
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)
            empty = not self._subscriptions
        if empty:
            self._wake.set()  # the thread sees nobody watches and ends

    def stop(self, timeout: float = 10) -> None:
        """Ends every stream and the thread (the app's shutdown); new streams are refused meanwhile."""
        with self._lock:
            self._stopped = True
            subscriptions, thread = list(self._subscriptions), self._thread
            self._subscriptions.clear()
        self._wake.set()
        for subscription in subscriptions:
            _deliver(subscription, None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._lock:  # an app started again (tests run its lifespan more than once) may watch again
            self._stopped = False

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped or not self._subscriptions:
                    self._thread = None
                    return
                watched = list(self._subscriptions)
            self._wake.clear()
            try:
                self._look(watched)
            except Exception:  # a failed look (the database away) is retried at the next one
                log.exception("looking for changes of %d watched buildings failed", len(watched))
            self._wake.wait(self.interval)

    def _look(self, watched: list[Subscription]) -> None:
        now = clock.now()
        with Session(self.engine, expire_on_commit=False) as session:
            prints = fingerprints(
                session,
                {s.building_id for s in watched},
                now,
                clock.local_day(now, self.timezone),
                self._ledger,
            )
            due: dict[tuple[int, str, str], list[Subscription]] = defaultdict(list)
            for subscription in watched:
                current = prints.get(subscription.building_id)
                if current is not None and subscription.seen != current:
                    due[(subscription.building_id, subscription.audience, subscription.language)].append(
                        subscription
                    )
            watched_keys = {(s.building_id, s.audience, s.language) for s in watched}
            self._rendered = {k: v for k, v in self._rendered.items() if k in watched_keys}
            for key, subscribers in due.items():
                update = self._rendered.get(key)
                if update is None or update.id != prints[key[0]]:  # else: rendered already, unchanged since
                    try:
                        html = self.render(session, *key)
                    except Exception:  # one building failing leaves the others live; tried again next look
                        log.exception("rendering the live view of building %d failed", key[0])
                        session.rollback()
                        continue
                    if html is None:
                        continue
                    update = self._rendered[key] = Update(prints[key[0]], html)
                for subscription in subscribers:
                    subscription.seen = update.id
                    _deliver(subscription, update)
            self.looks += 1


def _deliver(subscription: Subscription, update: Update | None) -> None:
    with contextlib.suppress(RuntimeError):  # its loop is closed: the stream is gone
        subscription.loop.call_soon_threadsafe(_offer, subscription.queue, update)


def event_text(update: Update) -> str:
    """One SSE event: its id, then the HTML a line at a time as `data:` lines."""
    data = "".join(f"data: {line}\n" for line in update.html.splitlines() or [""])
    return f"id: {update.id}\n{data}\n"


async def stream(
    hub: LiveHub, subscription: Subscription, keep_alive: float = KEEP_ALIVE_SECONDS
) -> AsyncIterator[str]:
    """The SSE body: the reconnect hint, then each update, and a comment line when idle.

    Ends when the hub stops; Starlette cancels it when the client goes, and either way the
    subscription is dropped (the last one's going ends the hub's thread)."""
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            try:
                update = await asyncio.wait_for(subscription.queue.get(), keep_alive)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if update is None:
                return
            yield event_text(update)
    finally:
        hub.unsubscribe(subscription)
