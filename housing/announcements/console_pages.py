"""HTML routes of announcements for staff and officials (`/console/announcements`): the list with
how many residents have read each, one announcement, and the posting form (with a file).

Company managers and dispatchers post to their buildings (the whole building or some
entrances), officials and admins to a district or the city (admins reach any building
through the API). The form posts, then redirects (303) to the new announcement, or shows
it again with the reason beside each field.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from housing.actors import ANNOUNCERS, Actor
from housing.announcements import presenting, service
from housing.announcements.languages import WRITTEN_IN
from housing.announcements.models import Announcement, Reach
from housing.announcements.queries import VisibleAnnouncement, visible_announcements
from housing.announcements.schemas import BODY_MAX, TITLE_MAX
from housing.auth import AnnouncerActor, WatcherActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import DomainError
from housing.registry.models import Building, District
from housing.registry.queries import managed_building_ids
from housing.routing import page_of
from housing.settings import Settings
from housing.validation import PageNumber, Text, parse_day, parse_id
from housing.web import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_BUILDINGS = 1_000  # the form's choices: one company's buildings


@router.get("/console/announcements", response_class=HTMLResponse)
def announcements(
    request: Request, session: SessionDep, actor: WatcherActor, today: Today, page: PageNumber = 1
) -> Response:
    query = visible_announcements(actor, today)
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = session.exec(
        query.order_by(col(Announcement.created_at).desc(), col(Announcement.id).desc())
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE)
    ).all()
    shown = presenting.show(session, rows, actor, request_language(request, actor.language))
    return render(
        request,
        "announcements/console.html",
        actor=actor,
        shown=shown,
        paging=paging,
        today=today,
        may_post=actor.role in ANNOUNCERS,
    )


@router.get("/console/announcements/new", response_class=HTMLResponse)
def new_announcement(
    request: Request, session: SessionDep, actor: AnnouncerActor, settings: SettingsDep, today: Today
) -> Response:
    return _form(request, session, actor, settings, today, typed={"reach": _default_reach(actor)}, errors={})


@router.post("/console/announcements", response_class=HTMLResponse)
def post_announcement(
    request: Request,
    session: SessionDep,
    actor: AnnouncerActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    reach: Annotated[Text, Form(max_length=20)] = "",
    building_ids: Annotated[list[Text], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    entrances: Annotated[Text, Form(max_length=200)] = "",
    district_id: Annotated[Text, Form(max_length=12)] = "",
    urgent: Annotated[Text, Form(max_length=5)] = "",
    pinned_until: Annotated[Text, Form(max_length=20)] = "",
    title_uz: Annotated[Text, Form(max_length=TITLE_MAX * 2)] = "",
    text_uz: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
    title_ru: Annotated[Text, Form(max_length=TITLE_MAX * 2)] = "",
    text_ru: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
    title_en: Annotated[Text, Form(max_length=TITLE_MAX * 2)] = "",
    text_en: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
    attachment: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _ = gettext_for(request, actor)
    words = {"uz": (title_uz, text_uz), "ru": (title_ru, text_ru), "en": (title_en, text_en)}
    typed: dict[str, Any] = {f"title_{code}": title for code, (title, _text) in words.items()}
    typed |= {f"text_{code}": text for code, (_title, text) in words.items()}
    typed |= {"reach": reach, "building_ids": building_ids[:MAX_BUILDINGS], "entrances": entrances}
    typed |= {"district_id": district_id, "urgent": bool(urgent), "pinned_until": pinned_until}
    errors: dict[str, str] = {}
    texts = _texts(words, errors, _)
    chosen_reach = Reach(reach) if reach in Reach.__members__ else None
    if chosen_reach is None:
        errors["reach"] = _("Choose whom the announcement is for.")
    targets = _targets(building_ids, entrances, errors, _) if chosen_reach is Reach.buildings else []
    district = parse_id(district_id) if chosen_reach is Reach.district else None
    if chosen_reach is Reach.district and district is None:
        errors["district_id"] = _("Choose a district.")
    pin = parse_day(pinned_until) if pinned_until.strip() else None
    if pinned_until.strip() and pin is None:
        errors["pinned_until"] = _("Pin it until a day from today to a year ahead.")
    data = b""
    limit = settings.announcements.max_attachment_bytes
    if attachment is not None and attachment.filename:
        data = attachment.file.read(limit + 1)
    if not errors:
        assert chosen_reach is not None
        try:
            posted = service.post_announcement(
                session,
                actor=actor,
                texts=texts,
                reach=chosen_reach,
                targets=targets,
                district_id=district,
                urgent=bool(urgent),
                pinned_until=pin,
                attachment=service.Attachment(data, settings.announcements.attachment_dir, limit)
                if data
                else None,
                notice_chars=settings.announcements.notice_chars,
                today=today,
                now=now,
            )
        except DomainError as error:
            errors[error.field or "form"] = _refusal(error, _, limit)
        else:
            return RedirectResponse(f"/console/announcements/{posted.id}?posted=1", status_code=303)
    return _form(request, session, actor, settings, today, typed=typed, errors=errors, status_code=422)


@router.get("/console/announcements/{announcement_id}", response_class=HTMLResponse)
def announcement(
    request: Request,
    session: SessionDep,
    actor: WatcherActor,
    announcement: VisibleAnnouncement,
    today: Today,
) -> Response:
    shown = presenting.show(session, [announcement], actor, request_language(request, actor.language))[0]
    return render(
        request,
        "announcements/console_one.html",
        actor=actor,
        shown=shown,
        where=presenting.where_names(session, announcement),
        posted=request.query_params.get("posted") == "1",
        today=today,
    )


def _texts(words: dict[str, tuple[str, str]], errors: dict[str, str], _: Any) -> dict[str, service.Wording]:
    texts = {}
    for code, (title, text) in words.items():
        if not title.strip() and not text.strip():
            continue
        if not title.strip() or not text.strip():
            errors[f"text_{code}"] = _("Write both the title and the text in this language, or neither.")
        elif len(title) > TITLE_MAX or len(text) > BODY_MAX:
            errors[f"text_{code}"] = _("The title may have up to 200 characters and the text up to 5000.")
        else:
            texts[code] = service.Wording(title, text)
    if not texts and not errors:
        errors["texts"] = _("Write a title and a text in at least one language.")
    return texts


def _targets(building_ids: list[str], entrances: str, errors: dict[str, str], _: Any) -> list[service.Target]:
    ids = [parse_id(value) for value in building_ids[:MAX_BUILDINGS]]
    if not ids or None in ids:
        errors["building_ids"] = _("Choose at least one building.")
        return []
    numbers = [part.strip() for part in entrances.replace(";", ",").split(",") if part.strip()]
    chosen = [parse_id(part) for part in numbers]
    if None in chosen or any(n > 1000 for n in chosen if n):
        errors["entrances"] = _("Write entrance numbers separated by commas, e.g. 1, 3; or leave it empty.")
        return []
    if not chosen:
        return [service.Target(building_id) for building_id in ids if building_id]
    return [service.Target(b, e) for b in ids for e in chosen if b and e]


def _refusal(error: DomainError, _: Any, limit: int) -> str:
    """The service's refusal, in the page's language, by the field it names."""
    messages = {
        "targets": _("Choose buildings of your company, and entrances that exist in each of them."),
        "district_id": _("Choose a district."),
        "pinned_until": _("Pin it until a day from today to a year ahead."),
        "attachment": _("The file must be a JPEG, PNG or WebP picture or a PDF of at most %(size)s MB.")
        % {"size": limit // (1024 * 1024)},
        "texts": _("Write a title and a text in at least one language."),
    }
    return messages.get(error.field or "", _("You may not post an announcement to these residents."))


def _default_reach(actor: Actor) -> str:
    return Reach.buildings.value if actor.is_company_staff else Reach.city.value


def _form(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    today: date,
    *,
    typed: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    buildings: list[tuple[int, str]] = []
    if actor.is_company_staff:
        managed = managed_building_ids(actor.company_id, today)
        buildings = list(
            session.execute(
                select(Building.id, Building.address)
                .where(col(Building.id).in_(managed))
                .order_by(Building.address)
                .limit(MAX_BUILDINGS)
            ).all()
        )
    districts = (
        []
        if actor.is_company_staff
        else list(session.execute(select(District.id, District.name).order_by(District.name)).all())
    )
    return render(
        request,
        "announcements/new.html",
        status_code=status_code,
        actor=actor,
        typed=typed,
        errors=errors,
        buildings=buildings,
        districts=districts,
        languages_written=WRITTEN_IN,
        max_file_mb=settings.announcements.max_attachment_bytes // (1024 * 1024),
    )
