"""CSRF protection for every form: asgi-csrf, plus a way around its multipart bug.

Every unsafe request that carries cookies needs the token; API clients with a bearer token
and Stripe's webhooks carry no cookies and are left alone.
"""

from typing import Any

from asgi_csrf import asgi_csrf
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from housing.web import gettext_for, render


class CSRFProtection:
    """asgi-csrf as Starlette middleware: every unsafe request that carries cookies needs the token.

    Forms post it as `csrftoken`, scripts send it as X-CSRFToken; API clients with a bearer
    token and Stripe's webhooks carry no cookies and are left alone.
    """

    def __init__(
        self, app: ASGIApp, *, secret: str, secure: bool, exempt: frozenset[str] | set[str] = frozenset()
    ) -> None:
        # `exempt`: paths whose callers sign every request with a key of their own (a payment
        # provider's merchant API), which a cross-site form cannot do.
        exempt = frozenset(exempt)
        self.app = asgi_csrf(
            _RestoreHeaders(app),
            signing_secret=secret,
            signing_namespace="housing-csrf",
            # Without a cookie a request cannot ride on a session, except a forged login or
            # language switch; those forms are checked always.
            always_protect={"/login", "/logout", "/language"},
            cookie_secure=secure,
            send_csrf_failed=_csrf_refused,
            skip_if_scope=lambda scope: scope["path"].rstrip("/") in exempt,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and _is_multipart(scope):
            # asgi-csrf 0.11 cannot read a multipart body with python-multipart >= 0.0.26
            # (simonw/asgi-csrf#38): the form's token field (it must come before any file)
            # is moved to the X-CSRFToken header, which asgi-csrf checks itself against its
            # cookie. A form without the field is refused here.
            # asgi-csrf sees the token in the header and a content type it does not parse, so
            # a wrong token is refused by it without touching the body; the app gets the
            # request's own headers back (_RestoreHeaders).
            token, receive = await _multipart_token(scope, receive)
            if token is None:
                await _csrf_refused(scope, send, None)
                return
            shown = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"x-csrftoken")]
            shown += [(b"content-type", b"application/x-multipart-checked"), (b"x-csrftoken", token)]
            scope = {**scope, "headers": shown, ORIGINAL_HEADERS: scope["headers"]}
        await self.app(scope, receive, send)


ORIGINAL_HEADERS = "housing.original_headers"


class _RestoreHeaders:
    """Inside asgi-csrf: the request's own headers again, once the token has been checked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if ORIGINAL_HEADERS in scope:
            scope = {**scope, "headers": scope[ORIGINAL_HEADERS]}
        await self.app(scope, receive, send)


def _is_multipart(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    # Requests asgi-csrf lets through before it reads a body are left to it as they are.
    bearer = headers.get(b"authorization", b"").startswith(b"Bearer ")
    return (
        content_type == b"multipart/form-data"
        and bool(headers.get(b"cookie"))
        and not bearer
        and b"x-csrftoken" not in headers
    )


class _TokenFound(Exception):
    pass


class _FileFirst(Exception):
    pass


async def _multipart_token(scope: Scope, receive: Receive) -> tuple[bytes | None, Receive]:
    """The `csrftoken` field of a multipart form (it must come before any file), and a receive
    that replays what was read to find it. Reads only as far as that field."""
    headers = dict(scope.get("headers") or [])
    _, options = parse_options_header(headers.get(b"content-type"))
    part: dict[str, Any] = {}

    def on_part_begin() -> None:
        part.clear()
        part.update(header=b"", value=b"", disposition=b"", data=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["header"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part["value"] += data[start:end]

    def on_header_end() -> None:
        if part["header"].strip().lower() == b"content-disposition":
            part["disposition"] = part["value"]
        part["header"], part["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        _, params = parse_options_header(part["disposition"])
        if b"filename" in params:
            raise _FileFirst
        part["data"] += data[start:end]

    def on_part_end() -> None:
        _, params = parse_options_header(part["disposition"])
        if params.get(b"name") == b"csrftoken":
            raise _TokenFound(part["data"])

    parser = MultipartParser(
        options.get(b"boundary", b""),
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    seen: list[Message] = []

    async def replay() -> Message:
        return seen.pop(0) if seen else await receive()

    token = None
    try:
        more = True
        while more:
            message = await receive()
            seen.append(message)
            if message["type"] != "http.request":
                break
            parser.write(message.get("body", b""))
            more = message.get("more_body", False)
    except _TokenFound as found:
        token = found.args[0]
    except (_FileFirst, ValueError, MultipartParseError):
        token = None
    return token, replay


async def _csrf_refused(scope: Scope, send: Send, message_id: Any) -> None:
    request = Request(scope)
    _ = gettext_for(request)
    response = render(
        request,
        "housing/error.html",
        status_code=403,
        problem={
            "title": _("The form has expired"),
            "detail": _("The page was open too long or came from another site. Reload it and send it again."),
            "status": 403,
        },
    )
    await response(scope, _no_receive, send)


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}
