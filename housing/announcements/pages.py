"""HTML routes of the resident's inbox (`/notices`): outages in their buildings, then their
announcements and notifications with unread marks; opening one marks it read."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from housing.announcements import inbox, presenting, service
from housing.announcements.queries import VisibleAnnouncement
from housing.auth import ResidentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.incidents.queries import current_in_buildings
from housing.notifications.models import Notification
from housing.notifications.service import mark_read
from housing.validation import Id, PageNumber
from housing.web import render, request_language

router = APIRouter(include_in_schema=False)

OUTAGES = 100  # a building rarely has more going on at once


@router.get("/notices", response_class=HTMLResponse)
def notices(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    page: PageNumber = 1,
) -> Response:
    outages = session.execute(current_in_buildings(actor, today, now).limit(OUTAGES)).all()
    language = request_language(request, actor.language)
    items, more = inbox.inbox_page(
        session, actor, today=today, language=language, timezone=settings.timezone, page=page
    )
    unread = inbox.unread_count(session, actor, today)
    return render(
        request,
        "announcements/inbox.html",
        actor=actor,
        rows=outages,
        items=items,
        unread=unread,
        page=min(page, inbox.LAST_PAGE),
        more=more,
        now=now,
    )


@router.get("/notices/announcements/{announcement_id}", response_class=HTMLResponse)
def announcement_page(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    announcement: VisibleAnnouncement,
    today: Today,
    now: Now,
) -> Response:
    """Opening it marks it read (and its notification)."""
    service.mark_read(session, announcement, user_id=actor.user_id, now=now)
    shown = presenting.show(session, [announcement], actor, request_language(request, actor.language))[0]
    return render(request, "announcements/announcement.html", actor=actor, shown=shown, today=today)


@router.get("/notices/{notification_id}")
def open_notification(session: SessionDep, actor: ResidentActor, notification_id: Id, now: Now) -> Response:
    """Marks one of the resident's notifications read and opens its page (404 if not theirs)."""
    mark_read(session, user_id=actor.user_id, notification_id=notification_id, now=now)
    notification = session.get(Notification, notification_id)
    link = notification.link if notification else ""
    # Only a path of this site: "//host" or "/\\host" would leave it.
    if not link.startswith("/") or link[1:2] in ("/", "\\"):
        link = "/notices"
    return RedirectResponse(link, status_code=303)
