"""Tying a Telegram chat to a user: a one-time code in a deep link, consumed by the bot's /start.

The code is random (not derived from the user), lives `CODE_LIFETIME`, and is used once. A
chat linked to one user and then to another moves: a chat id belongs to one user at a time.
Linking again clears a "blocked" mark left by an earlier refusal.
"""

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from housing.errors import Invalid
from housing.notifications.models import ContactSettings, TelegramLinkCode

CODE_LIFETIME = timedelta(minutes=30)
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what token_urlsafe makes; anything else is no code


def new_link_code(session: Session, *, user_id: int, now: datetime) -> TelegramLinkCode:
    """A fresh code for the user; their earlier unused codes stop working."""
    session.execute(
        update(TelegramLinkCode)
        .where(TelegramLinkCode.user_id == user_id, col(TelegramLinkCode.used_at).is_(None))
        .values(used_at=now)
    )
    code = TelegramLinkCode(code=secrets.token_urlsafe(24), user_id=user_id, expires_at=now + CODE_LIFETIME)
    session.add(code)
    session.flush()
    return code


def deep_link(bot_name: str, code: str) -> str:
    return f"https://t.me/{bot_name.lstrip('@')}?start={code}"


def link_chat(session: Session, *, code: str, chat_id: int, now: datetime) -> int:
    """Consumes the code and ties the chat to its user; returns the user id.

    Raises Invalid for an unknown, used or expired code (the bot answers so).
    """
    well_formed = CODE_SHAPE.fullmatch(code or "")
    found = session.get(TelegramLinkCode, code, with_for_update=True) if well_formed else None
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise Invalid("this link is unknown, used or expired; open a new one from your settings page")
    found.used_at = now
    elsewhere = session.exec(
        select(ContactSettings).where(
            ContactSettings.telegram_chat_id == chat_id, ContactSettings.user_id != found.user_id
        )
    ).all()
    for other in elsewhere:
        other.telegram_chat_id = None
        session.add(other)
    session.flush()
    contact = session.get(ContactSettings, found.user_id) or ContactSettings(user_id=found.user_id)
    contact.telegram_chat_id = chat_id
    contact.telegram_disabled = ""
    session.add_all([found, contact])
    session.flush()
    return found.user_id


def unlink_chat(session: Session, *, user_id: int) -> None:
    contact = session.get(ContactSettings, user_id)
    if contact is not None:
        contact.telegram_chat_id = None
        session.add(contact)
        session.flush()


def user_of_chat(session: Session, chat_id: int) -> int | None:
    """The user a chat is linked to, if any."""
    return session.exec(
        select(ContactSettings.user_id).where(ContactSettings.telegram_chat_id == chat_id)
    ).first()
