"""JSON routes of notifications: a user's inbox and preferences, and the staff's view of deliveries."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session, col, select

from housing import i18n
from housing.accounts.models import User
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep
from housing.notifications import preferences as prefs
from housing.notifications import service
from housing.notifications.messages import words_of
from housing.notifications.models import Delivery, Notification
from housing.notifications.queries import OwnNotification, WatchedNotification, own_notifications
from housing.notifications.schemas import (
    DeliveryRead,
    KindSetting,
    NotificationDeliveries,
    NotificationRead,
    NotificationSettingsRead,
    NotificationSettingsUpdate,
)
from housing.routing import Paging, counted_page
from housing.schemas import API_PROBLEMS, Page
from housing.settings import Settings

router = APIRouter(tags=["notifications"], responses=API_PROBLEMS)


def _read(notice: Notification, actor: Actor, settings: Settings) -> NotificationRead:
    words = words_of(notice, actor.language or i18n.DEFAULT_LANGUAGE, settings)
    subject, text, url = words.subject, words.text, words.url
    return NotificationRead(
        id=notice.id,
        kind=notice.kind,
        subject=subject,
        text=text,
        url=url,
        urgent=notice.urgent,
        created_at=notice.created_at,
        read_at=notice.read_at,
    )


@router.get("/notifications", response_model=Page[NotificationRead])
def list_notifications(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    paging: Paging,
    unread: Annotated[bool | None, Query(description="Only the unread (true) or the read (false)")] = None,
):
    """The actor's own notifications, newest first."""
    query = own_notifications(actor)
    if unread is not None:
        query = query.where(col(Notification.read_at).is_(None) if unread else col(Notification.read_at).is_not(None))  # fmt: skip
    rows, total = counted_page(
        session,
        query,
        col(Notification.created_at).desc(),
        col(Notification.id).desc(),
        limit=paging.limit,
        offset=paging.offset,
    )
    items = [_read(notice, actor, settings) for (notice,) in rows]
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.post("/notifications/read-all")
def read_all(session: SessionDep, actor: CurrentActor, now: Now) -> dict[str, int]:
    """Marks every unread notification of the actor read; answers how many were."""
    return {"marked": service.mark_read(session, user_id=actor.user_id, notification_id=None, now=now)}


@router.post("/notifications/{notification_id}/read", response_model=NotificationRead)
def read_one(
    notice: OwnNotification, session: SessionDep, actor: CurrentActor, settings: SettingsDep, now: Now
):
    """Marks one of the actor's notifications read (again: no change); another's is 404."""
    service.mark_read(session, user_id=actor.user_id, notification_id=notice.id, now=now)
    session.refresh(notice)
    return _read(notice, actor, settings)


@router.get("/notifications/{notification_id}/deliveries", response_model=NotificationDeliveries)
def deliveries(notice: WatchedNotification, session: SessionDep):
    """Staff: each channel's delivery of a notification, its attempts and outcome (404 outside their scope)."""
    rows = session.exec(
        select(Delivery).where(Delivery.notification_id == notice.id).order_by(Delivery.channel)
    ).all()
    return NotificationDeliveries(
        **notice.model_dump(), deliveries=[DeliveryRead.model_validate(d) for d in rows]
    )


def settings_read(session: Session, user: User, settings: Settings) -> NotificationSettingsRead:
    found = prefs.preferences(session, user=user, notify=settings.notify)
    start, end = (found.quiet_start, found.quiet_end) if found.quiet_start else found.default_quiet
    return NotificationSettingsRead(
        language=found.language,
        email=found.email,
        phone=found.phone,
        register_email=found.register_email,
        register_phone=found.register_phone,
        telegram_linked=found.telegram_chat_id is not None,
        disabled=found.disabled,
        quiet_hours={"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
        quiet_hours_default=found.quiet_start is None,
        offered=sorted(found.offered),
        kinds=[
            KindSetting(
                kind=choice.kind.name,
                title=choice.kind.title,
                channels=sorted(choice.channels),
                chosen=choice.chosen,
                required=choice.kind.required,
                urgent=choice.kind.urgent,
            )
            for choice in found.kinds
        ],
    )


@router.get("/notification-settings", response_model=NotificationSettingsRead)
def read_settings(session: SessionDep, actor: CurrentActor, settings: SettingsDep):
    return settings_read(session, session.get(User, actor.user_id), settings)


@router.patch("/notification-settings", response_model=NotificationSettingsRead)
def update_settings(body: NotificationSettingsUpdate, session: SessionDep, actor: CurrentActor, settings: SettingsDep):  # fmt: skip
    """Changes the fields sent; required kinds keep at least one channel (422 otherwise, nothing changed)."""
    user = session.get(User, actor.user_id)
    prefs.update_preferences(
        session, user=user, changes=body.model_dump(exclude_unset=True), languages=i18n.LANGUAGES
    )
    return settings_read(session, user, settings)
