"""At most `limit` requests at a time past this gate in one web process: no more than the
database pool's connections.

Why: FastAPI runs each sync dependency and then the endpoint in a thread-pool call of their
own (40 threads). A request checks out its database connection in its first dependency and
keeps it across those calls. In a burst of more requests than connections, every thread
can end up waiting for a connection held by requests that wait for a thread, and the
process stops answering until the pool gives up (measured: 200 live building views
reconnecting at once, as after a restart, got no answer within 90 s; docs/benchmarks.md).
Let in no more requests than there are connections, and a request holding a connection
always finds a thread; the others wait here, on the event loop, holding nothing.

A request leaves the gate when its response starts: its endpoint and its session (closed
before the response, `housing.db.SessionDep`) are done by then, so a streaming response
(the live building view) holds no place while it streams. Static files skip the gate.
"""

import asyncio
import weakref
from typing import Any

Scope = dict[str, Any]


class RequestsInFlight:
    def __init__(self, app: Any, *, limit: int, exempt: tuple[str, ...] = ("/static/",)) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        # One semaphore per event loop: a test client runs each app in a loop of its own.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        return gate

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        gate = self._gate()
        await gate.acquire()
        inside = True

        def leave() -> None:
            nonlocal inside
            if inside:
                inside = False
                gate.release()

        async def send_leaving_at_start(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                leave()
            await send(message)

        try:
            await self.app(scope, receive, send_leaving_at_start)
        finally:
            leave()
