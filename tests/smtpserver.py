"""A real SMTP server for tests (aiosmtpd) in a thread of its own, on a port of the tests' range.

It keeps every message it accepted, can refuse a recipient (`refuse`), answer the next MAIL
with a shutdown (`go_down_after`), take a message's data and drop the connection without an
answer (`drop_after_data`), and be stopped and started again on the same port.
"""

import asyncio
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, AuthResult

from tests.servers import bound_socket, listening_socket


@dataclass(frozen=True)
class Arrived:
    mail_from: str
    to: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


class Inbox:
    """aiosmtpd's handler: what arrived, and the faults a test asks for."""

    def __init__(self) -> None:
        self.arrived: list[Arrived] = []
        self.refuse: dict[str, str] = {}  # recipient -> the reply to its RCPT
        self.go_down_after: int | None = None  # accept this many, then answer 421 and stop listening
        self.drop_after_data: set[str] = set()  # recipients whose data is kept but never answered
        self.server: MailServer | None = None
        self._changed = threading.Condition()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.go_down_after is not None and len(self.arrived) >= self.go_down_after:
            assert self.server is not None
            self.server.close_listener()
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the reply is written
            return "421 4.3.2 mail.test shutting down"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._changed:
            self.arrived.append(
                Arrived(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
            self._changed.notify_all()
        if set(envelope.rcpt_tos) & self.drop_after_data:
            server.transport.abort()  # the data arrived; the client never hears so
            return "250 OK"
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 15) -> list[Arrived]:
        """The messages once at least `count` arrived; fails the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.arrived) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.arrived)} of {count} messages arrived in {timeout} s"
                self._changed.wait(left)
            return list(self.arrived)


class MailServer:
    """aiosmtpd serving `inbox` on a loopback port that stays the same across stop/start."""

    def __init__(self, inbox: Inbox, **smtp_options) -> None:
        self.inbox = inbox
        inbox.server = self
        self.options = {"hostname": "mail.test"} | smtp_options
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def start(self) -> "MailServer":
        sock = listening_socket() if self.port is None else bound_socket(self.port)
        self.port = sock.getsockname()[1]
        serving = self._loop.create_server(lambda: SMTP(self.inbox, **self.options), sock=sock)
        self._server = asyncio.run_coroutine_threadsafe(serving, self._loop).result(10)
        return self

    def close_listener(self) -> None:
        """New connections are refused from now on (called from the server's own thread too)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self.close_listener)
        self.call(lambda: None)

    def call(self, function):
        async def run():
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def shutdown(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def accept_password(password: str):
    """An authenticator for `MailServer(..., authenticator=...)`: one password is right."""

    def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
        right = getattr(auth_data, "password", b"") == password.encode()
        return AuthResult(success=right, handled=False)  # not handled: aiosmtpd answers 235 or 535

    return check
