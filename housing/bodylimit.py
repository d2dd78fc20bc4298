"""Request bodies are limited while they stream in, before anything parses them.

Pure ASGI, the outermost layer that sees a body (before the CSRF check, which reads URL-encoded
and multipart forms whole): a body announced larger than its route's limit by Content-Length
is refused before a byte of it is read, and one that grows past the limit as it arrives
(chunked, or a Content-Length that lies) is refused the moment it does; what was read so far
is dropped. The refusal is 413 with `Connection: close`, so the server stops reading the rest
instead of draining it.

The limit depends on what the route takes (`route_kind`): a CSV import, a photo upload, a
JSON document, or anything else (a form). Each is a setting (`HOUSING_LIMITS__*`).
"""

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from housing.errors import problem_body
from housing.settings import LimitSettings
from housing.web import gettext_for

IMPORT, PHOTO, JSON, FORM = "import", "photo", "json", "form"

# Routes that take a file, by path: the CSV imports, and the photo uploads (the resident's
# filing form may carry one), and an announcement's file (its posting form may carry one).
# A building's bank statement and its expenses' documents (up to HOUSING_MONEY__MAX_DOCUMENT_BYTES,
# more than a photo), and a meeting's agenda documents, paper ballots' scans and powers of
# attorney (up to HOUSING_MEETINGS__MAX_DOCUMENT_BYTES) take the import's limit; the service
# refuses a document over its own. So does the console's upload of a provider's statement.
_IMPORTS = re.compile(
    r"^(/api/v1/imports/|/api/v1/buildings/[^/]+/expenses/import/?$|/api/v1/expenses/[^/]+/documents/?$"
    r"|/console/money/(buildings/[^/]+/(import|expenses)|expenses/[^/]+/documents)/?$"
    r"|(/api/v1|/console)/meetings/[^/]+/(documents|paper-ballots|proxies)/?$"
    r"|/console/payments/reconciliation/?$)"
)
_PHOTOS = re.compile(
    r"^(/api/v1/requests/[^/]+/photos|/requests|/api/v1/announcements/[^/]+/attachment|/console/announcements)/?$"
)

Refuse = Callable[[Request, dict[str, Any]], Response]


def route_kind(scope: Scope) -> str:
    """Which limit a request's body falls under: its path first, then its media type."""
    path = scope["path"]
    if _IMPORTS.match(path):
        return IMPORT
    if _PHOTOS.match(path):
        return PHOTO
    media_type = _header(scope, b"content-type").split(b";", 1)[0].strip().lower()
    if media_type == b"application/json" or media_type.endswith(b"+json"):
        return JSON
    return FORM


def limit_for(limits: LimitSettings, kind: str) -> int:
    return {IMPORT: limits.import_bytes, PHOTO: limits.photo_bytes, JSON: limits.json_bytes}.get(
        kind, limits.form_bytes
    )


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses a request body over its route's limit with 413, without reading past the limit.

    `refuse` renders the answer as every other error is rendered (problem+json for the API,
    the spec's error list for Open311, an HTML page otherwise).
    """

    def __init__(self, app: ASGIApp, *, limits: LimitSettings, refuse: Refuse) -> None:
        self.app = app
        self.limits = limits
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = route_kind(scope)
        limit = limit_for(self.limits, kind)
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, kind, limit)
            return

        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app made of the cut-off body (a 400, say) is replaced
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # _TooLarge itself, or what a layer made of it (a parser's error about a cut body)
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, send, kind, limit)

    async def _refuse(self, scope: Scope, send: Send, kind: str, limit: int) -> None:
        request = Request(scope)
        # A page's refusal in the visitor's language; API and Open311 errors are in English.
        page = "text/html" in request.headers.get("accept", "") and not scope["path"].startswith(
            ("/api/", "/open311/")
        )
        _ = gettext_for(request) if page else _untranslated
        body = problem_body(
            413, _("The request is too large"), _refusal(_, kind) % {"size": _size(limit)}, limit_bytes=limit
        )
        response = self.refuse(request, body)
        response.headers["Connection"] = "close"  # stop reading the rest of the body
        await response(scope, _no_receive, send)


def _refusal(_: Callable[[str], str], kind: str) -> str:
    if kind == IMPORT:
        return _("A file to import may be at most %(size)s; this one is larger.")
    if kind == PHOTO:
        return _("A photo with its form may be at most %(size)s; this one is larger.")
    if kind == JSON:
        return _("A JSON document may be at most %(size)s; this one is larger.")
    return _("A form may be at most %(size)s; this one is larger.")


def _untranslated(message: str) -> str:
    return message


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    if limit >= 1024:
        return f"{limit / 1024:g} KB"
    return f"{limit} bytes"


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value
    return b""


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
