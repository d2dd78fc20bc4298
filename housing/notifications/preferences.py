"""A user's notification preferences: which channels for which kind, where, and when to be quiet.

The settings page and `/api/v1/notification-settings` both read `preferences` and write
through the verbs below, which flush and never commit. The rules live here once:
- a kind the law or the owners' meetings require (`Kind.required`) keeps the in-app copy
  (always) and at least one external channel;
- a user sees the kinds addressed to their role (residents' or staff's);
- a new e-mail address or phone number clears that channel's "disabled" reason, and so
  does re-enabling it by hand (the next refusal disables it again);
- quiet hours are both given or both left to the city's default; equal ends mean none.
A wrong input raises `Invalid` before anything is written.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlmodel import Session, select

from housing.accounts.models import Role, User
from housing.accounts.service import choose_language
from housing.errors import Invalid
from housing.notifications.kinds import EXTERNAL_CHANNELS, KINDS, Channel, Kind
from housing.notifications.models import ChannelChoice, ContactSettings
from housing.registry.models import Person
from housing.settings import NotifySettings

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE = re.compile(r"^\+?[0-9]{7,15}$")
_PHONE_SEPARATORS = re.compile(r"[\s()\-.]")
# A number typed without its country code is taken as Uzbek: 9 digits after +998.
COUNTRY_CODE, LOCAL_DIGITS = "998", 9


@dataclass(frozen=True)
class KindChoice:
    kind: Kind
    channels: frozenset[Channel]
    chosen: bool  # False: the kind's defaults, the user never changed them


@dataclass(frozen=True)
class Preferences:
    user_id: int
    language: str | None
    email: str | None  # the override; None: the register's
    phone: str | None
    register_email: str | None
    register_phone: str | None
    telegram_chat_id: int | None
    disabled: dict[Channel, str]  # a channel refused for good, with the reason
    quiet_start: time | None  # None: the city's default
    quiet_end: time | None
    default_quiet: tuple[time, time]
    kinds: list[KindChoice]
    offered: frozenset[Channel]  # the channels this platform has turned on

    def address(self, channel: Channel) -> str | None:
        if channel is Channel.email:
            return self.email or self.register_email
        if channel is Channel.sms:
            return self.phone or self.register_phone
        return str(self.telegram_chat_id) if self.telegram_chat_id else None


def kinds_for(role: Role | str) -> list[Kind]:
    """The kinds a user of this role may receive: the residents' or the staff's and officials'."""
    staff = Role(role) != Role.resident
    return [kind for kind in KINDS.values() if kind.staff == staff]


def offered_channels(notify: NotifySettings) -> frozenset[Channel]:
    on = {Channel.email: notify.email_on, Channel.telegram: notify.telegram_on, Channel.sms: notify.sms_on}
    return frozenset(channel for channel, is_on in on.items() if is_on)


def preferences(session: Session, *, user: User, notify: NotifySettings) -> Preferences:
    contact = session.get(ContactSettings, user.id) or ContactSettings(user_id=user.id)
    person = session.get(Person, user.person_id) if user.person_id else None
    choices = {
        c.kind: c for c in session.exec(select(ChannelChoice).where(ChannelChoice.user_id == user.id)).all()
    }
    kinds = []
    for kind in kinds_for(user.role):
        choice = choices.get(kind.name)
        chosen = (
            kind.channels if choice is None else {c for c in EXTERNAL_CHANNELS if getattr(choice, c.value)}
        )
        kinds.append(KindChoice(kind, frozenset(chosen), choice is not None))
    return Preferences(
        user_id=user.id,
        language=user.language,
        email=contact.email,
        phone=contact.phone,
        register_email=person.email if person else None,
        register_phone=person.phone if person else None,
        telegram_chat_id=contact.telegram_chat_id,
        disabled={
            c: getattr(contact, f"{c.value}_disabled")
            for c in EXTERNAL_CHANNELS
            if getattr(contact, f"{c.value}_disabled")
        },
        quiet_start=contact.quiet_start,
        quiet_end=contact.quiet_end,
        default_quiet=(notify.quiet_start, notify.quiet_end),
        kinds=kinds,
        offered=offered_channels(notify),
    )


def choose_channels(session: Session, *, user: User, choices: Mapping[str, set[Channel]]) -> None:
    """Sets the channels of each named kind; kinds not named keep theirs."""
    allowed = {kind.name: kind for kind in kinds_for(user.role)}
    for name, channels in choices.items():
        kind = allowed.get(name)
        if kind is None:
            raise Invalid(f"there is no notification kind {name!r} for a {user.role}", field=name)
        if kind.required and not channels:
            raise Invalid(
                f"{name} is required by law or the owners' meetings: keep at least one channel", field=name
            )
    existing = {
        c.kind: c for c in session.exec(select(ChannelChoice).where(ChannelChoice.user_id == user.id))
    }
    for name, channels in choices.items():
        choice = existing.get(name) or ChannelChoice(user_id=user.id, kind=name)
        for channel in EXTERNAL_CHANNELS:
            setattr(choice, channel.value, channel in channels)
        session.add(choice)
    session.flush()


def _clean_phone(phone: str) -> str:
    cleaned = _PHONE_SEPARATORS.sub("", phone)
    if not PHONE.match(cleaned):
        raise Invalid("a phone number is 7 to 15 digits, with + and the country code: +998 90 123 45 67", field="phone")  # fmt: skip
    if len(cleaned) == LOCAL_DIGITS:  # typed without the country code: the city's
        return f"+{COUNTRY_CODE}{cleaned}"
    return cleaned if cleaned.startswith("+") else f"+{cleaned}"


def set_contact(
    session: Session,
    *,
    user_id: int,
    email: str | None,
    phone: str | None,
    quiet: tuple[time, time] | None,
) -> ContactSettings:
    """Where to reach the user (None or "": the register's address) and their quiet hours (None: the city's)."""
    email = (email or "").strip() or None
    if email is not None and (len(email) > 200 or not EMAIL.match(email)):
        raise Invalid("that is not an e-mail address", field="email")
    phone = _clean_phone(phone.strip()) if phone and phone.strip() else None
    contact = session.get(ContactSettings, user_id) or ContactSettings(user_id=user_id)
    if email != contact.email:
        contact.email, contact.email_disabled = email, ""
    if phone != contact.phone:
        contact.phone, contact.sms_disabled = phone, ""
    contact.quiet_start, contact.quiet_end = quiet if quiet else (None, None)
    session.add(contact)
    session.flush()
    return contact


def reenable(session: Session, *, user_id: int, channel: Channel) -> None:
    """Clears a channel's "disabled" reason: the user says the address works again."""
    contact = session.get(ContactSettings, user_id)
    if contact is not None and getattr(contact, f"{channel.value}_disabled"):
        setattr(contact, f"{channel.value}_disabled", "")
        session.add(contact)
        session.flush()


def clock_time(text: str, field: str) -> time:
    """'22:00' -> 22:00; Invalid naming the field otherwise."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise Invalid("a time of day looks like 22:00", field=field) from None


def update_preferences(
    session: Session, *, user: User, changes: Mapping[str, Any], languages: tuple[str, ...]
) -> None:
    """Applies the fields present in `changes` (the API's body, unset fields left out); all or nothing."""
    if changes.get("kinds") is not None:
        choose_channels(
            session, user=user, choices={item["kind"]: set(item["channels"]) for item in changes["kinds"]}
        )
    contact = session.get(ContactSettings, user.id) or ContactSettings(user_id=user.id)
    if {"email", "phone", "quiet_hours"} & changes.keys():
        quiet = (
            (contact.quiet_start, contact.quiet_end) if contact.quiet_start and contact.quiet_end else None
        )
        if "quiet_hours" in changes:
            hours = changes["quiet_hours"]
            quiet = (clock_time(hours["start"], "quiet_hours.start"), clock_time(hours["end"], "quiet_hours.end")) if hours else None  # fmt: skip
        set_contact(
            session,
            user_id=user.id,
            email=changes.get("email", contact.email),
            phone=changes.get("phone", contact.phone),
            quiet=quiet,
        )
    for channel in changes.get("reenable") or ():
        reenable(session, user_id=user.id, channel=Channel(channel))
    if changes.get("language") is not None:
        choose_language(session, user_id=user.id, language=changes["language"], offered=languages)
