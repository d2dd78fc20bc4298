"""Telegram: notifications as bot messages, through pyTelegramBotAPI's `TeleBot`.

The Bot API server is `settings.notify.telegram_api_url` (Telegram's, a local Bot API server
or the tests' stand-in). How each answer counts:
- 429 Too Many Requests: temporary, after Telegram's `retry_after`; the rest of the batch, and
  of any batch handed over before that wait is over, is not tried (every call would be
  refused the same) and is retried after the same wait;
- 403 (the user blocked the bot, or the account is deactivated) and 400 "chat not found":
  permanent, so the channel is disabled for the user until they link again;
- a server that cannot be reached: temporary; no answer once the request left: unknown, not
  sent again (`channels.http`); other errors: temporary.
"""

import logging
import math
import time
from html import escape

import telebot
from requests import RequestException
from telebot import apihelper
from telebot.apihelper import ApiException, ApiTelegramException

from housing.notifications.channels.base import SENT, Outcome, Outgoing, permanent, temporary
from housing.notifications.channels.http import http_failure
from housing.notifications.kinds import Channel
from housing.settings import NotifySettings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10
MAX_CHARS = 4096  # a message's length as shown, after Telegram parses the HTML
GONE = ("chat not found", "user is deactivated", "bot was blocked", "bot was kicked", "user not found")


def use_api_server(api_url: str) -> None:
    """Points pyTelegramBotAPI at a Bot API server (the library keeps one per process)."""
    base = api_url.rstrip("/")
    apihelper.API_URL = base + "/bot{0}/{1}"
    apihelper.FILE_URL = base + "/file/bot{0}/{1}"


def make_bot(notify: NotifySettings) -> telebot.TeleBot:
    """A synchronous TeleBot for the configured token and server; handlers run in the caller's thread."""
    assert notify.telegram_token is not None, "Telegram is off without HOUSING_NOTIFY__TELEGRAM_TOKEN"
    use_api_server(notify.telegram_api_url)
    return telebot.TeleBot(notify.telegram_token.get_secret_value(), threaded=False, validate_token=False)


def message_text(message: Outgoing) -> str:
    """The subject in bold, the text, then the link, escaped for Telegram's HTML mode; a long
    text is cut so that the message shows at most Telegram's 4096 characters."""
    room = MAX_CHARS - len(message.subject) - len(message.url) - 4
    text = message.text if len(message.text) <= room else message.text[: max(room - 1, 0)] + "…"
    words = [f"<b>{escape(message.subject, quote=False)}</b>", escape(text, quote=False)]
    if message.url:
        words.append(escape(message.url, quote=False))
    return "\n\n".join(words)


def outcome_of(error: Exception) -> Outcome:
    """How a failed call counts (see the module's docstring)."""
    if isinstance(error, ApiTelegramException):
        description = str(error.description)
        if error.error_code == 429:
            retry_after = (error.result_json.get("parameters") or {}).get("retry_after")
            return temporary(f"429 {description}", retry_after=float(retry_after or 1))
        if error.error_code == 403 or (
            error.error_code == 400 and any(gone in description.lower() for gone in GONE)
        ):
            return permanent(f"{error.error_code} {description}")
        return temporary(f"{error.error_code} {description}")
    if isinstance(error, RequestException):
        return http_failure(error, "Telegram")
    if isinstance(error, ApiException):
        return temporary(f"{type(error).__name__}: {error}")
    raise error


class TelegramChannel:
    """Sends each message to its chat id; after a 429, sends nothing until Telegram's wait is over."""

    channel = Channel.telegram

    def __init__(self, notify: NotifySettings) -> None:
        self.rate_per_second = notify.telegram_rate_per_second
        self.bot = make_bot(notify)
        self._held_until = 0.0  # monotonic time until which Telegram asked us to wait

    def send(self, messages: list[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in messages:
            held = self._held_until - time.monotonic()
            if held > 0:  # flood control: the rest would be refused too
                rest = temporary("not tried: waiting out a 429", retry_after=math.ceil(held))
                return outcomes + [rest] * (len(messages) - len(outcomes))
            if not message.address.lstrip("-").isdigit():
                outcomes.append(permanent(f"not a Telegram chat id: {message.address[:40]}"))
                continue
            try:
                self.bot.send_message(
                    int(message.address), message_text(message), parse_mode="HTML", timeout=REQUEST_TIMEOUT_S
                )
            except (ApiException, RequestException) as error:
                outcome = outcome_of(error)
                outcomes.append(outcome)
                if outcome.retry_after is not None:
                    log.warning("Telegram asked to wait %ss before sending more", outcome.retry_after)
                    self._held_until = time.monotonic() + outcome.retry_after
                continue
            outcomes.append(SENT)
        return outcomes

    def close(self) -> None:
        pass
