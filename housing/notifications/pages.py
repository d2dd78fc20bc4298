"""The notification settings page (`/settings/notifications`), for every signed-in user.

Per kind the channels (in-app always; a required kind keeps one more), the address for
e-mail and SMS, quiet hours, the pages' language (the header's switcher, posted back here),
each channel refused for good with its reason and a button to turn it back on, and Telegram:
"Link Telegram" makes a one-time code and shows its t.me deep link; "Unlink" forgets the
chat. Each form posts, then redirects (303) back; a refused input re-renders the page (422)
with the reason next to its field and nothing saved. The rules are in `preferences`.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from housing.accounts.models import User
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep
from housing.errors import Invalid
from housing.notifications import linking
from housing.notifications import preferences as prefs
from housing.notifications.kinds import EXTERNAL_CHANNELS, Channel
from housing.notifications.models import TelegramLinkCode
from housing.settings import Settings
from housing.validation import Text
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)
PAGE = "/settings/notifications"


def _current_code(session: Session, user_id: int, now: datetime) -> TelegramLinkCode | None:
    return session.exec(
        select(TelegramLinkCode)
        .where(
            TelegramLinkCode.user_id == user_id,
            col(TelegramLinkCode.used_at).is_(None),
            TelegramLinkCode.expires_at > now,
        )
        .order_by(col(TelegramLinkCode.created_at).desc())
    ).first()


def _page(request: Request, session: Session, actor: Actor, settings: Settings, now: datetime, *, errors: dict[str, str] | None = None, typed: dict[str, str] | None = None) -> Response:  # fmt: skip
    user = session.get(User, actor.user_id)
    found = prefs.preferences(session, user=user, notify=settings.notify)
    code = _current_code(session, actor.user_id, now)
    bot = settings.notify.telegram_bot_name
    return render(
        request,
        "notifications/settings.html",
        status_code=422 if errors else 200,
        actor=actor,
        prefs=found,
        channels=EXTERNAL_CHANNELS,
        deep_link=linking.deep_link(bot, code.code) if code and bot else None,
        code_expires=code.expires_at if code else None,
        bot_name=bot,
        errors=errors or {},
        typed=typed or {},
    )


def _back() -> Response:
    return RedirectResponse(f"{PAGE}?saved=1", status_code=303)


@router.get(PAGE, response_class=HTMLResponse)
def settings_page(
    request: Request, session: SessionDep, actor: CurrentActor, settings: SettingsDep, now: Now
):
    return _page(request, session, actor, settings, now)


@router.post(f"{PAGE}/channels", response_class=HTMLResponse)
def save_channels(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    now: Now,
    choice: Annotated[list[Text], Form(max_length=200)] = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    """Every kind of the page at once: a box left unticked turns that channel off for that kind."""
    user = session.get(User, actor.user_id)
    chosen: dict[str, set[Channel]] = {kind.name: set() for kind in prefs.kinds_for(user.role)}
    for value in choice[:200]:
        name, _, channel = value.partition(":")
        if name in chosen and channel in Channel.__members__:
            chosen[name].add(Channel(channel))
    try:
        prefs.choose_channels(session, user=user, choices=chosen)
    except Invalid as refused:
        session.rollback()
        _ = gettext_for(request, actor)
        message = _("This notice is required by law or the owners' meetings: keep at least one channel.")
        return _page(request, session, actor, settings, now, errors={refused.field or "": message})
    return _back()


@router.post(f"{PAGE}/contact", response_class=HTMLResponse)
def save_contact(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    now: Now,
    email: Annotated[Text, Form(max_length=300)] = "",
    phone: Annotated[Text, Form(max_length=60)] = "",
    quiet_default: Annotated[Text, Form(max_length=5)] = "",
    quiet_start: Annotated[Text, Form(max_length=10)] = "",
    quiet_end: Annotated[Text, Form(max_length=10)] = "",
) -> Response:
    """The e-mail and phone for notifications (empty: the register's) and the quiet hours."""
    _ = gettext_for(request, actor)
    typed = {"email": email, "phone": phone, "quiet_start": quiet_start, "quiet_end": quiet_end}
    reasons = {
        "email": _("That is not an e-mail address."),
        "phone": _("Write the number with its country code, for example +998 90 123 45 67."),
        "quiet_start": _("Write a time of day such as 22:00."),
        "quiet_end": _("Write a time of day such as 08:00."),
    }
    try:
        quiet = None
        if not quiet_default:
            quiet = (prefs.clock_time(quiet_start, "quiet_start"), prefs.clock_time(quiet_end, "quiet_end"))
        prefs.set_contact(session, user_id=actor.user_id, email=email, phone=phone, quiet=quiet)
    except Invalid as refused:
        session.rollback()
        field = refused.field or "email"
        return _page(request, session, actor, settings, now, errors={field: reasons[field]}, typed=typed)
    return _back()


@router.post(f"{PAGE}/reenable")
def reenable_channel(
    session: SessionDep, actor: CurrentActor, channel: Annotated[Text, Form(max_length=10)]
) -> Response:
    if channel in Channel.__members__:
        prefs.reenable(session, user_id=actor.user_id, channel=Channel(channel))
    return _back()


@router.post(f"{PAGE}/telegram")
def link_telegram(session: SessionDep, actor: CurrentActor, now: Now) -> Response:
    """A fresh one-time code; the page then shows its deep link until it is used or expires."""
    linking.new_link_code(session, user_id=actor.user_id, now=now)
    return RedirectResponse(f"{PAGE}#telegram", status_code=303)


@router.post(f"{PAGE}/telegram/unlink")
def unlink_telegram(session: SessionDep, actor: CurrentActor) -> Response:
    linking.unlink_chat(session, user_id=actor.user_id)
    return _back()
