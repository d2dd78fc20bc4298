"""A resident's inbox: the announcements that reach them and their other notifications, merged.

Pinned announcements come first; then everything newest first. An announcement is unread
until the resident opens it (its own notification is then marked read too, and is not
listed twice); another notification is unread until opened through `/notices/{id}`.
A page is merged from the first `page * size` rows of each list (two bounded queries).
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func
from sqlmodel import Session, col, select

from housing.actors import Actor
from housing.announcements import presenting
from housing.announcements.models import Announcement, AnnouncementRead
from housing.announcements.queries import pinned_first, visible_announcements
from housing.notifications.kinds import KINDS
from housing.notifications.messages import render
from housing.notifications.models import Notification

ANNOUNCEMENT_KINDS = ("announcement", "announcement_urgent")  # shown as their announcement
PAGE_SIZE = 30
LAST_PAGE = 100  # a page is merged from both lists' first page * size rows


@dataclass(frozen=True)
class Item:
    at: datetime
    unread: bool
    pinned: bool
    urgent: bool
    subject: str
    text: str
    url: str  # opening it marks it read
    attachment_url: str | None = None


def _other_notifications(user_id: int) -> Select:
    """The user's notifications but those of announcements (and of a kind no longer in the catalogue)."""
    shown = [name for name in KINDS if name not in ANNOUNCEMENT_KINDS]
    return select(Notification).where(Notification.user_id == user_id, col(Notification.kind).in_(shown))


def unread_count(session: Session, actor: Actor, today: date) -> int:
    visible = visible_announcements(actor, today).with_only_columns(Announcement.id).subquery()
    read = select(AnnouncementRead.announcement_id).where(AnnouncementRead.user_id == actor.user_id)
    announcements = session.execute(
        select(func.count()).select_from(visible).where(visible.c.id.not_in(read))
    ).scalar_one()
    others = _other_notifications(actor.user_id).where(col(Notification.read_at).is_(None))
    notices = session.execute(select(func.count()).select_from(others.subquery())).scalar_one()
    return announcements + notices


def inbox_page(
    session: Session,
    actor: Actor,
    *,
    today: date,
    language: str,
    timezone: str,
    page: int,
    size: int = PAGE_SIZE,
) -> tuple[list[Item], bool]:
    """The items of one page and whether a next one exists."""
    page = min(page, LAST_PAGE)
    wanted = page * size + 1
    announcements = list(
        session.exec(visible_announcements(actor, today).order_by(*pinned_first(today)).limit(wanted))
    )
    notices = list(
        session.exec(
            _other_notifications(actor.user_id)
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .limit(wanted)
        )
    )
    items = [
        _announcement_item(shown, today) for shown in presenting.show(session, announcements, actor, language)
    ]
    items += [_notification_item(n, language, timezone) for n in notices]
    items.sort(key=lambda item: item.at, reverse=True)
    items.sort(key=lambda item: not item.pinned)  # stable: pinned first, each part newest first
    start = (page - 1) * size
    return items[start : start + size], len(items) > page * size and page < LAST_PAGE


def _announcement_item(shown: presenting.Shown, today: date) -> Item:
    announcement = shown.announcement
    return Item(
        at=announcement.created_at,
        unread=not shown.read,
        pinned=shown.pinned(today),
        urgent=announcement.urgent,
        subject=shown.title,
        text=shown.body,
        url=f"/notices/announcements/{announcement.id}",
        attachment_url=shown.attachment_url,
    )


def _notification_item(notification: Notification, language: str, timezone: str) -> Item:
    words = render(
        kind=notification.kind,
        params=notification.params,
        link=notification.link,
        language=language,
        site_url="",
        timezone=timezone,
    )
    return Item(
        at=notification.created_at,
        unread=notification.read_at is None,
        pinned=False,
        urgent=notification.urgent,
        subject=words.subject,
        text=words.text,
        url=f"/notices/{notification.id}",
    )
