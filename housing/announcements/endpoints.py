"""JSON routes of announcements: list and read within the actor's scope, post, attach a file, mark read."""

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile, status
from fastapi.responses import FileResponse
from sqlmodel import Session, col

from housing.actors import Actor
from housing.announcements import presenting, service
from housing.announcements.models import Announcement, Reach
from housing.announcements.queries import VisibleAnnouncement, pinned_first, visible_announcements
from housing.announcements.schemas import AnnouncementCreate, AnnouncementRead
from housing.auth import AnnouncerActor, CurrentActor, ResidentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import NotFound
from housing.i18n import LANGUAGES
from housing.routing import Paging, counted_page
from housing.schemas import API_PROBLEMS, Page, problems

router = APIRouter(tags=["announcements"], responses=API_PROBLEMS)


def _language(actor: Actor) -> str:
    return actor.language or LANGUAGES[0]


def _read_model(session: Session, shown: presenting.Shown) -> dict[str, Any]:
    announcement = shown.announcement
    return {
        **announcement.model_dump(exclude={"reach"}),
        "reach": Reach(announcement.reach),
        "language": shown.language,
        "title": shown.title,
        "text": shown.body,
        "texts": [{"language": t.language, "title": t.title, "text": t.body} for t in shown.texts],
        "targets": service.targets_of(session, announcement.id),
        "attachment_url": shown.attachment_url,
        "read": shown.read,
        "recipients": None if shown.read is not None else announcement.recipients,
        "read_count": shown.read_count,
    }


@router.get("/announcements", response_model=Page[AnnouncementRead])
def list_announcements(session: SessionDep, actor: CurrentActor, today: Today, paging: Paging):
    """Newest first; a resident's pinned ones (pinned until today or later) come first."""
    query = visible_announcements(actor, today)
    order = [col(Announcement.created_at).desc(), col(Announcement.id).desc()]
    if actor.role.value == "resident":
        order = pinned_first(today)
    rows, total = counted_page(session, query, *order, limit=paging.limit, offset=paging.offset)
    shown = presenting.show(session, [row[0] for row in rows], actor, _language(actor))
    items = [_read_model(session, s) for s in shown]
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.post(
    "/announcements",
    response_model=AnnouncementRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, why={403: "Staff post to their buildings; officials to a district or the city"}),
)
def post_announcement(
    body: AnnouncementCreate,
    session: SessionDep,
    actor: AnnouncerActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
):
    """Posts it and notifies every resident it reaches, in one transaction. Attach a file after."""
    announcement = service.post_announcement(
        session,
        actor=actor,
        texts={w.language: service.Wording(w.title, w.text) for w in body.texts},
        reach=body.reach,
        targets=[service.Target(t.building_id, t.entrance) for t in body.targets],
        district_id=body.district_id if body.reach is Reach.district else None,
        urgent=body.urgent,
        pinned_until=body.pinned_until,
        notice_chars=settings.announcements.notice_chars,
        today=today,
        now=now,
    )
    return _read_model(session, presenting.show(session, [announcement], actor, _language(actor))[0])


@router.get("/announcements/{announcement_id}", response_model=AnnouncementRead)
def read_announcement(session: SessionDep, actor: CurrentActor, announcement: VisibleAnnouncement):
    """Reading it does not mark it read; `POST .../read` does (the pages do both on open)."""
    return _read_model(session, presenting.show(session, [announcement], actor, _language(actor))[0])


@router.post("/announcements/{announcement_id}/read", status_code=status.HTTP_204_NO_CONTENT)
def mark_read(session: SessionDep, actor: ResidentActor, announcement: VisibleAnnouncement, now: Now) -> None:
    """Idempotent: the first time counts; its notification is marked read too."""
    service.mark_read(session, announcement, user_id=actor.user_id, now=now)


@router.post(
    "/announcements/{announcement_id}/attachment",
    response_model=AnnouncementRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(409, 413, 415),
)
def attach(
    file: Annotated[UploadFile, File(description="A JPEG, PNG or WebP image or a PDF")],
    session: SessionDep,
    actor: AnnouncerActor,
    settings: SettingsDep,
    announcement: VisibleAnnouncement,
):
    """Its author's company (or an official, for a district- or city-wide one) adds one file, once."""
    if not _may_edit(actor, announcement):
        raise NotFound(f"announcement {announcement.id} not found")
    limit = settings.announcements.max_attachment_bytes
    attachment = service.Attachment(file.file.read(limit + 1), settings.announcements.attachment_dir, limit)
    service.attach_file(session, announcement, attachment)
    return _read_model(session, presenting.show(session, [announcement], actor, _language(actor))[0])


def _may_edit(actor: Actor, announcement: Announcement) -> bool:
    if actor.role.value == "admin":
        return True
    if announcement.company_id is not None:
        return announcement.company_id == actor.company_id
    return actor.role.value == "official"


@router.get("/announcements/{announcement_id}/attachment", response_class=FileResponse)
def download(settings: SettingsDep, announcement: VisibleAnnouncement):
    if announcement.attachment_file is None:
        raise NotFound(f"announcement {announcement.id} has no attachment")
    # Served as a download under its checked type, so a browser never runs it as a page.
    return FileResponse(
        settings.announcements.attachment_dir / announcement.attachment_file,
        media_type=announcement.attachment_type,
        filename=announcement.attachment_file,
        content_disposition_type="inline"
        if announcement.attachment_type != "application/pdf"
        else "attachment",
    )
