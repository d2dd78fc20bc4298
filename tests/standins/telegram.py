"""A stand-in for Telegram's Bot API (https://core.telegram.org/bots/api), only the methods we call.

getMe, getUpdates (long polling with offsets, 409 while a webhook is set), sendMessage,
answerCallbackQuery, setMyCommands, getFile and the file download (`/file/bot<token>/<path>`), setWebhook
and deleteWebhook. Answers follow the documented shape `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ..., "parameters": {"retry_after": n}}`.
A test queues updates as a user would cause them (`user_says`, `user_sends_photo`,
`user_presses`), makes chats refuse (`blocked`, `missing`) or the bot flood-limited
(`flood`), and waits for what the bot sent (`wait_for`).
"""

import html
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.servers import listening_socket

BOT = {"id": 7000001, "is_bot": True, "first_name": "My Home", "username": "myhome_test_bot"}


@dataclass
class Sent:
    chat_id: int
    text: str
    message_id: int
    params: dict[str, Any]

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of each inline button, row by row."""
        markup = json.loads(self.params.get("reply_markup") or "{}")
        return [
            (b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", []) for b in row
        ]


@dataclass
class BotApi:
    token: str
    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # method names, in order
    blocked: set[int] = field(default_factory=set)  # chats whose user blocked the bot: 403
    missing: set[int] = field(default_factory=set)  # chats that do not exist: 400
    flood: int = 0  # the next this many sendMessage calls answer 429
    down: bool = False  # every call answers 502 from a proxy, as when the service is unreachable
    retry_after: int = 7
    webhook: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    menus: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # language code -> commands
    _updates: list[dict] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _changed: threading.Condition = field(default_factory=threading.Condition)

    # What a user does

    def _user(self, chat_id: int, language: str) -> dict:
        return {"id": chat_id, "is_bot": False, "first_name": f"User {chat_id}", "language_code": language}

    def _message(self, chat_id: int, language: str, reply_to: Sent | None, **content: Any) -> dict:
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self._user(chat_id, language),
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to.message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT,
                "text": reply_to.text,
            }
        return message

    def _queue(self, **update: Any) -> dict:
        with self._changed:
            update = {"update_id": next(self._ids), **update}
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def user_says(
        self, chat_id: int, text: str, *, language: str = "en", reply_to: Sent | None = None
    ) -> dict:
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []  # fmt: skip
        message = self._message(chat_id, language, reply_to, text=text, entities=entities)
        return self._queue(message=message)

    def user_sends_photo(self, chat_id: int, data: bytes, *, caption: str = "", reply_to: Sent | None = None, language: str = "en") -> dict:  # fmt: skip
        file_id = f"photo-{next(self._ids)}"
        self.files[file_id] = (f"photos/{file_id}.jpg", data)
        sizes = [{"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600, "file_size": len(data)}]  # fmt: skip
        message = self._message(chat_id, language, reply_to, photo=sizes, caption=caption)
        return self._queue(message=message)

    def user_sends_file(self, chat_id: int, data: bytes, *, name: str, caption: str = "", reply_to: Sent | None = None) -> dict:  # fmt: skip
        file_id = f"doc-{next(self._ids)}"
        self.files[file_id] = (f"documents/{file_id}-{name}", data)
        document = {"file_id": file_id, "file_unique_id": file_id, "file_name": name, "file_size": len(data)}
        message = self._message(chat_id, "en", reply_to, document=document, caption=caption)
        return self._queue(message=message)

    def user_presses(self, chat_id: int, data: str, *, on: Sent, language: str = "en") -> dict:
        message = {"message_id": on.message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"}, "from": BOT, "text": on.text}  # fmt: skip
        query = {"id": str(next(self._ids)), "from": self._user(chat_id, language), "message": message, "chat_instance": "1", "data": data}  # fmt: skip
        return self._queue(callback_query=query)

    def pending(self) -> int:
        with self._changed:
            return len(self._updates)

    # What the test waits for

    def wait_for(self, chat_id: int, contains: str = "", *, after: int = 0, timeout: float = 10) -> Sent:
        """The first message sent to the chat, from index `after` on, that contains the words."""
        return self.wait_until(
            lambda: next((m for m in self.sent[after:] if m.chat_id == chat_id and contains in m.text), None),
            timeout=timeout,
            what=f"a message to {chat_id} containing {contains!r}",
        )

    def wait_until(
        self, found: Callable[[], Any], *, timeout: float = 10, what: str = "the condition"
    ) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := found()):
                left = deadline - time.monotonic()
                if left <= 0:
                    texts = [(m.chat_id, m.text[:80]) for m in self.sent]
                    raise AssertionError(f"timed out waiting for {what}; sent so far: {texts}")
                self._changed.wait(left)
            return result

    # The Bot API

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict | None]:
        with self._changed:
            self.calls.append(method)
            self._changed.notify_all()
        handler = getattr(self, f"api_{method}", None)
        if self.down:
            return 502, None
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return handler(params)

    def api_getMe(self, params: dict) -> tuple[int, dict]:
        return 200, {"ok": True, "result": BOT}

    def api_getUpdates(self, params: dict) -> tuple[int, dict]:
        if self.webhook.get("url"):
            return 409, _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 5)
        with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed
            while not self._updates and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return 200, {"ok": True, "result": list(self._updates[: int(params.get("limit") or 100)])}

    def api_sendMessage(self, params: dict) -> tuple[int, dict]:
        chat_id = int(params["chat_id"])
        text = str(params.get("text") or "")
        with self._changed:
            if self.flood > 0:
                self.flood -= 1
                return 429, _error(429, f"Too Many Requests: retry after {self.retry_after}", retry_after=self.retry_after)  # fmt: skip
        if chat_id in self.blocked:
            return 403, _error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.missing:
            return 400, _error(400, "Bad Request: chat not found")
        if not text.strip():
            return 400, _error(400, "Bad Request: message text is empty")
        shown = html.unescape(re.sub(r"</?b>", "", text)) if params.get("parse_mode") == "HTML" else text
        if len(shown) > 4096:
            return 400, _error(400, "Bad Request: message is too long")
        with self._changed:
            sent = Sent(chat_id, text, next(self._ids), dict(params))
            self.sent.append(sent)
            self._changed.notify_all()
        result = {"message_id": sent.message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"}, "from": BOT, "text": text}  # fmt: skip
        return 200, {"ok": True, "result": result}

    def api_setMyCommands(self, params: dict) -> tuple[int, dict]:
        commands = json.loads(params.get("commands") or "[]")
        if not all(1 <= len(c["command"]) <= 32 and 1 <= len(c["description"]) <= 256 for c in commands):
            return 400, _error(400, "Bad Request: BOT_COMMAND_INVALID")
        self.menus[str(params.get("language_code") or "")] = [(c["command"], c["description"]) for c in commands]  # fmt: skip
        return 200, {"ok": True, "result": True}

    def api_answerCallbackQuery(self, params: dict) -> tuple[int, dict]:
        return 200, {"ok": True, "result": True}

    def api_getFile(self, params: dict) -> tuple[int, dict]:
        found = self.files.get(str(params.get("file_id")))
        if found is None:
            return 400, _error(400, "Bad Request: invalid file_id")
        path, data = found
        file_id = str(params["file_id"])
        result = {"file_id": file_id, "file_unique_id": file_id, "file_size": len(data), "file_path": path}
        return 200, {"ok": True, "result": result}

    def api_setWebhook(self, params: dict) -> tuple[int, dict]:
        self.webhook = {"url": str(params.get("url") or ""), "secret_token": str(params.get("secret_token") or "")}  # fmt: skip
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    def api_deleteWebhook(self, params: dict) -> tuple[int, dict]:
        self.webhook = {}
        return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}

    def download(self, path: str) -> bytes | None:
        return next((data for p, data in self.files.values() if p == path), None)


def _error(code: int, description: str, **parameters: Any) -> dict:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _handler(api: BotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            params: dict[str, Any] = dict(parse_qsl(parts.query))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if body and "json" in (self.headers.get("Content-Type") or ""):
                params |= json.loads(body)
            elif body:
                params |= dict(parse_qsl(body.decode()))
            segments = parts.path.strip("/").split("/")
            if segments[:1] == ["file"] and len(segments) >= 3 and segments[1] == f"bot{api.token}":
                data = api.download("/".join(segments[2:]))
                if data is None:
                    self._reply(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
                else:
                    self._reply(200, data, "application/octet-stream")
                return
            if len(segments) != 2 or segments[0] != f"bot{api.token}":
                self._reply(401, json.dumps(_error(401, "Unauthorized")).encode())
                return
            status, answer = api.answer(segments[1], params)
            if answer is None:
                self._reply(status, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            else:
                self._reply(status, json.dumps(answer).encode())

        do_GET = do_POST = _handle

    return Handler


class _StandinServer(ThreadingHTTPServer):
    """Closes its clients' keep-alive connections when it closes: otherwise a handler thread
    would go on answering an earlier test's client from that test's state."""

    daemon_threads = True

    def __init__(self, sock, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(sock.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.connections: set[socket.socket] = set()

    def process_request(self, request, client_address) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        for connection in list(self.connections):
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def telegram_standin(token: str = "123456:TEST-token") -> Iterator[BotApi]:  # noqa: S107
    """The stand-in served on a port of the tests' range until the block ends; `.url` is its address."""
    sock = listening_socket()
    host, port = sock.getsockname()
    api = BotApi(token, url=f"http://{host}:{port}")
    server = _StandinServer(sock, _handler(api))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
