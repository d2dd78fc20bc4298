"""One update handled: its chat, who it is linked to, its language, and the replies it collects.

Replies are sent after the update's transaction commits (`handled`), so the bot never says
"saved" about something a failed commit lost; a refusal (a `DomainError`) rolls back and
answers its reason; a bug is logged and answered with an apology.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from telebot import TeleBot, types

from housing import clock, i18n
from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.db import session_scope
from housing.errors import DomainError, Forbidden
from housing.notifications.linking import user_of_chat
from housing.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Reply:
    text: str
    markup: Any = None


@dataclass
class Turn:
    bot: TeleBot
    session: Session
    settings: Settings
    chat_id: int
    language: str
    now: datetime
    actor: Actor | None = None
    replies: list[Reply] = field(default_factory=list)

    @property
    def today(self) -> date:
        return clock.local_day(self.now, self.settings.timezone)

    def gettext(self, text: str) -> str:
        return i18n.translations(self.language).gettext(text)

    def say(self, text: str, markup: Any = None) -> None:
        self.replies.append(Reply(text[:4096], markup))


def residents_only(turn: Turn) -> None:
    """The resident's commands (their homes, meters, requests) answer no one else."""
    if turn.actor is None or turn.actor.role is not Role.resident:
        raise Forbidden(turn.gettext("This is for residents linked to their account."))


def chat_language(user_language: str | None, telegram_language: str | None) -> str:
    """The account's language, else the Telegram app's if we speak it, else Uzbek."""
    return i18n.negotiate(user_language, None, telegram_language or None)


def handled(engine: Engine, settings: Settings, bot: TeleBot, chat: types.Chat, sender: types.User | None, step: Callable[[Turn], None]) -> None:  # fmt: skip
    """Runs `step` in one transaction for the chat, then sends what it said."""
    language = chat_language(None, sender.language_code if sender else None)
    replies: list[Reply] = []
    try:
        with session_scope(engine) as session:
            turn = Turn(bot, session, settings, chat.id, language, clock.now())
            user_id = user_of_chat(session, chat.id)
            user = session.get(User, user_id) if user_id is not None else None
            if user is not None and user.is_active:
                turn.actor = Actor.of(user)
                turn.language = language = chat_language(user.language, sender.language_code if sender else None)  # fmt: skip
            step(turn)
            replies = turn.replies
    except DomainError as exc:
        replies = [Reply(exc.detail)]
    except Exception:
        log.exception("the bot failed on an update from chat %s", chat.id)
        sorry = i18n.translations(language).gettext(
            "Something went wrong on our side; please try again later."
        )
        replies = [Reply(sorry)]
    for reply in replies:
        bot.send_message(chat.id, reply.text, reply_markup=reply.markup)
