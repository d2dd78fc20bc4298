"""`Server-Timing` on every response: how long the app took, for devtools and bench/web.py."""

import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send


class ServerTiming:
    """Adds `Server-Timing: app;dur=<ms>`: the time from the request reaching the app to its
    response headers.

    Plain ASGI (no BaseHTTPMiddleware) so that the measurement costs next to nothing; added
    last, it is the outermost layer and so covers the other middleware and the routes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)
