"""Webhook mode: Telegram posts each update to `POST /telegram/webhook` of the web app.

On when both the bot's token and `telegram_webhook_secret` are set; otherwise the route
answers 404, as if it did not exist. Telegram sends the secret (given to setWebhook by
`housing bot --set-webhook URL`) in `X-Telegram-Bot-Api-Secret-Token`; a request without
it, or with another, is refused (403) before its body is read as an update. The update is
handled before the answer, so a 200 means its transaction committed; Telegram redelivers
an update that got no 200, and the steps refuse doubles (see polling.py).
"""

import hmac
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from telebot import TeleBot, types

from housing.errors import Forbidden, Invalid, NotFound
from housing.settings import Settings
from housing.validation import Text

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def webhook_on(settings: Settings) -> bool:
    return settings.notify.telegram_on and settings.notify.telegram_webhook_secret is not None


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _update(payload: bytes) -> types.Update:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid("the body is not a JSON Telegram update") from exc
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("update_id"), int)
        or isinstance(body["update_id"], bool)
    ):
        raise Invalid("a Telegram update is a JSON object with an integer update_id")
    try:
        return types.Update.de_json(body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Invalid(f"not a Telegram update: {type(exc).__name__}") from exc


@router.post("/telegram/webhook")
def telegram_webhook(
    request: Request,
    payload: Annotated[bytes, Depends(_raw_body)],
    secret: Annotated[Text | None, Header(alias=SECRET_HEADER, max_length=256)] = None,
) -> JSONResponse:
    bot: TeleBot | None = getattr(request.app.state, "telegram_bot", None)
    settings: Settings = request.app.state.settings
    expected = settings.notify.telegram_webhook_secret
    if bot is None or expected is None:
        raise NotFound("not found")
    if secret is None or not hmac.compare_digest(secret.encode(), expected.get_secret_value().encode()):
        raise Forbidden("the secret token does not match the one given to setWebhook")
    bot.process_new_updates([_update(payload)])
    return JSONResponse({"ok": True})
