"""What the sender hands a channel, and what a channel answers for each message."""

from dataclasses import dataclass
from typing import Protocol

from housing.notifications.kinds import Channel


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    address: str  # an e-mail address, a Telegram chat id, a phone number
    language: str
    subject: str
    text: str
    url: str
    urgent: bool


@dataclass(frozen=True)
class Outcome:
    """Sent; or a temporary failure (retried, after `retry_after` seconds if the service said
    so); or a permanent refusal (`permanent`), which disables the channel for the user; or
    `unknown` (the call broke after the message left), failed and never sent again."""

    sent: bool = False
    error: str = ""
    retry_after: float | None = None
    permanent: bool = False
    unknown: bool = False


SENT = Outcome(sent=True)


def temporary(error: str, retry_after: float | None = None) -> Outcome:
    return Outcome(error=error[:500], retry_after=retry_after)


def permanent(error: str) -> Outcome:
    return Outcome(error=error[:500], permanent=True)


def unknown(error: str) -> Outcome:
    return Outcome(error=error[:500], unknown=True)


class ChannelSender(Protocol):
    """One channel's transport. `send` answers one outcome per message, in order, and never
    raises for a failure of the service it talks to (that is an outcome)."""

    channel: Channel
    rate_per_second: float

    def send(self, messages: list[Outgoing]) -> list[Outcome]: ...

    def close(self) -> None: ...
