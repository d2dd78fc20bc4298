"""The bot put together: which update goes to which step, each step in its own transaction.

`build_bot` is all the long-polling process and the webhook route need: both hand it
updates (`process_new_updates`), and it answers through the Bot API server of the settings.
"""

import logging
from collections.abc import Callable

import telebot
from requests import RequestException
from sqlalchemy import Engine
from telebot import TeleBot, types
from telebot.apihelper import ApiException

from housing.bot import commands, forms
from housing.bot.turn import Turn, handled
from housing.notifications.channels.telegram import make_bot
from housing.settings import Settings

log = logging.getLogger(__name__)

LINKED_COMMANDS: dict[str, Callable[[Turn, types.Message], None]] = {
    "balance": commands.balance,
    "reading": forms.reading,
    "request": forms.request,
    "requests": commands.requests,
    "language": commands.language,
    "stop": commands.stop,
}


def build_bot(engine: Engine, settings: Settings) -> TeleBot:
    """A TeleBot with every handler registered; it makes no call until an update comes in."""
    bot = make_bot(settings.notify)
    bot.exception_handler = _LogAndGoOn()

    def on(message: types.Message, step: Callable[[Turn], None]) -> None:
        handled(engine, settings, bot, message.chat, message.from_user, step)

    @bot.message_handler(commands=["start"], chat_types=["private"])
    def start(message: types.Message) -> None:
        on(message, lambda turn: commands.start(turn, message))

    @bot.message_handler(commands=list(LINKED_COMMANDS), chat_types=["private"])
    def command(message: types.Message) -> None:
        name = (message.text or "/").split()[0].lstrip("/").partition("@")[0].lower()
        step = LINKED_COMMANDS.get(name, lambda turn, _: turn.say(commands.help_text(turn)))
        on(message, lambda turn: _linked(turn, step, message))

    @bot.message_handler(
        func=_replies_to_the_bot, content_types=["text", "photo", "document"], chat_types=["private"]
    )
    def reply(message: types.Message) -> None:
        on(message, lambda turn: _reply(turn, message))

    @bot.message_handler(
        func=lambda _: True, content_types=["text", "photo", "document"], chat_types=["private"]
    )
    def anything_else(message: types.Message) -> None:
        on(message, lambda turn: turn.say(commands.help_text(turn)))

    @bot.callback_query_handler(func=lambda _: True)
    def pressed(query: types.CallbackQuery) -> None:
        try:
            bot.answer_callback_query(query.id)  # stops the button's spinner; the step goes on without it
        except (ApiException, RequestException) as exc:
            log.warning("could not answer a button press: %s", exc)
        if query.message is not None:
            handled(engine, settings, bot, query.message.chat, query.from_user, lambda turn: _pressed(turn, query.data or ""))  # fmt: skip

    return bot


class _LogAndGoOn(telebot.ExceptionHandler):
    """A reply that could not be sent (the user blocked the bot, the server is down) is logged;
    the next update is handled as usual."""

    def handle(self, exception: Exception) -> bool:
        log.warning("the bot could not answer an update: %s", exception)
        return True


def _linked(turn: Turn, step: Callable[[Turn, types.Message], None], message: types.Message) -> None:
    if turn.actor is None:
        turn.say(commands.help_text(turn))
        return
    step(turn, message)


def _replies_to_the_bot(message: types.Message) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.is_bot)


def _reply(turn: Turn, message: types.Message) -> None:
    """A reply to one of the bot's prompts: the prompt's tag says which form it fills in."""
    replied = message.reply_to_message
    prompt = (replied.text if replied else "") or ""
    if turn.actor is None:
        turn.say(commands.help_text(turn))
    elif tag := forms.METER_TAG.search(prompt):
        forms.submit_reading(turn, int(tag.group(1)), message.text or message.caption or "")
    elif tag := forms.REQUEST_TAG.search(prompt):
        forms.file_request(turn, tag.group(1), int(tag.group(2)), message)
    else:
        turn.say(commands.help_text(turn))


def _pressed(turn: Turn, data: str) -> None:
    """A button: `lang:ru`, `meter:12`, `place:a5`, `cat:a5.3`; anything else is ignored."""
    if turn.actor is None:
        turn.say(commands.help_text(turn))
        return
    what, _, value = data.partition(":")
    if what == "lang":
        commands.choose_language(turn, value)
    elif what == "meter" and value.isdigit():
        forms.ask_reading(turn, int(value))
    elif what == "place" and forms.PLACE_KEY.fullmatch(value):
        forms.choose_category(turn, value)
    elif what == "cat" and (chosen := forms.CHOSEN.fullmatch(value)):
        forms.ask_description(turn, chosen.group(1), int(chosen.group(2)))
