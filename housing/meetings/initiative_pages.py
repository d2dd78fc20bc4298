"""HTML routes of an owners' initiative for the owner who starts it (`/meetings/initiatives/...`):
the form that drafts it (a building the owner owns in, its texts, its voting days), and on the
meeting's page, while it gathers signatures, adding and removing questions and publishing it
once owners holding enough votes have signed (the service checks the share).

The forms and their checks are the console's (`console_pages`); the service decides who may
(the initiator or an admin). Each posts, then 303s back to the meeting, or shows the page again
with the reason beside the form.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from housing.actors import Actor
from housing.announcements.languages import WRITTEN_IN
from housing.auth import ResidentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import DomainError, NotFound
from housing.meetings import drafting, publishing, queries
from housing.meetings.console_pages import (
    BODY_MAX,
    QUESTION_TITLE_MAX,
    TITLE_MAX,
    period_of_form,
    question_from_form,
    texts_of_form,
    typed_words,
)
from housing.meetings.models import MeetingQuestion
from housing.meetings.pages import meeting_of, redisplay, refusal
from housing.registry.models import Apartment, Building
from housing.registry.queries import home_apartment_ids
from housing.settings import Settings
from housing.validation import Id, Text, parse_id
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)


@router.get("/meetings/initiatives/new", response_class=HTMLResponse)
def new_initiative(
    request: Request, session: SessionDep, actor: ResidentActor, settings: SettingsDep, today: Today
) -> Response:
    return _form(request, session, actor, settings, today, typed={}, errors={})


@router.post("/meetings/initiatives", response_class=HTMLResponse)
def draft_initiative(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    building_id: Annotated[Text, Form(max_length=12)] = "",
    first_day: Annotated[Text, Form(max_length=20)] = "",
    last_day: Annotated[Text, Form(max_length=20)] = "",
    title_uz: Annotated[Text, Form(max_length=TITLE_MAX * 2)] = "",
    text_uz: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
    title_ru: Annotated[Text, Form(max_length=TITLE_MAX * 2)] = "",
    text_ru: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
    title_en: Annotated[Text, Form(max_length=TITLE_MAX * 2)] = "",
    text_en: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
) -> Response:
    _ = gettext_for(request, actor)
    words = {"uz": (title_uz, text_uz), "ru": (title_ru, text_ru), "en": (title_en, text_en)}
    typed = typed_words(words) | {"building_id": building_id, "first_day": first_day, "last_day": last_day}
    errors: dict[str, str] = {}
    texts = texts_of_form(words, errors, _, TITLE_MAX, need_body=False)
    building = parse_id(building_id)
    if building is None:
        errors["building_id"] = _("Choose a building.")
    period = period_of_form(first_day, last_day, settings, errors, _)
    if not errors:
        assert building is not None and period is not None
        try:
            meeting = drafting.draft_meeting(
                session,
                actor,
                building_id=building,
                texts=texts,
                voting_starts=period[0],
                voting_ends=period[1],
                now=now,
            )
        except DomainError as error:
            session.rollback()
            errors[
                error.field if error.field in ("building_id", "voting_starts", "voting_ends") else "form"
            ] = refusal(request, actor, error)
        else:
            return RedirectResponse(f"/meetings/{meeting.id}?done=drafted", status_code=303)
    return _form(request, session, actor, settings, today, typed=typed, errors=errors, status_code=422)


@router.post("/meetings/{meeting_id}/questions", response_class=HTMLResponse)
def add_question(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    today: Today,
    now: Now,
    kind: Annotated[Text, Form(max_length=30)] = "",
    company_id: Annotated[Text, Form(max_length=12)] = "",
    fee: Annotated[Text, Form(max_length=20)] = "",
    effective_from: Annotated[Text, Form(max_length=20)] = "",
    q_title_uz: Annotated[Text, Form(max_length=QUESTION_TITLE_MAX * 2)] = "",
    q_text_uz: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
    q_title_ru: Annotated[Text, Form(max_length=QUESTION_TITLE_MAX * 2)] = "",
    q_text_ru: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
    q_title_en: Annotated[Text, Form(max_length=QUESTION_TITLE_MAX * 2)] = "",
    q_text_en: Annotated[Text, Form(max_length=BODY_MAX * 2)] = "",
) -> Response:
    words = {"uz": (q_title_uz, q_text_uz), "ru": (q_title_ru, q_text_ru), "en": (q_title_en, q_text_en)}
    fields = {"kind": kind, "company_id": company_id, "fee": fee, "effective_from": effective_from}
    try:
        errors, typed = question_from_form(request, session, actor, meeting, now, words=words, **fields)
    except DomainError as error:
        return redisplay(request, session, actor, meeting, settings, today, now, "question", error, fields)
    if not errors:
        return RedirectResponse(f"/meetings/{meeting.id}?done=question#agenda", status_code=303)
    return redisplay(request, session, actor, meeting, settings, today, now, "", None, typed, errors=errors)


@router.post("/meetings/{meeting_id}/questions/{question_id}/remove", response_class=HTMLResponse)
def remove_question(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    meeting_id: Id,
    question_id: Id,
) -> Response:
    meeting = meeting_of(session, actor, today, meeting_id)
    question = session.get(MeetingQuestion, question_id)
    if question is None or question.meeting_id != meeting.id:
        raise NotFound(f"question {question_id} not found")
    try:
        drafting.remove_question(session, actor, question, now=now)
    except DomainError as error:
        return redisplay(request, session, actor, meeting, settings, today, now, "question", error, {})
    return RedirectResponse(f"/meetings/{meeting.id}?done=removed#agenda", status_code=303)


@router.post("/meetings/{meeting_id}/publish", response_class=HTMLResponse)
def publish(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    today: Today,
    now: Now,
) -> Response:
    try:
        publishing.publish_meeting(session, actor, meeting, settings=settings, now=now)
    except DomainError as error:
        return redisplay(request, session, actor, meeting, settings, today, now, "publish", error, {})
    return RedirectResponse(f"/meetings/{meeting.id}?done=published", status_code=303)


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
    """The draft form, offering the buildings where the owner owns or lives today."""
    homes = home_apartment_ids(actor.person_id, today).subquery() if actor.person_id else None
    buildings: list[tuple[int, str]] = []
    if homes is not None:
        buildings = list(
            session.execute(
                select(Building.id, Building.address)
                .where(
                    col(Building.id).in_(
                        select(Apartment.building_id).where(
                            col(Apartment.id).in_(select(homes.c.apartment_id))
                        )
                    )
                )
                .order_by(Building.address)
            ).all()
        )
    return render(
        request,
        "meetings/new_initiative.html",
        status_code=status_code,
        actor=actor,
        typed=typed,
        errors=errors,
        buildings=buildings,
        languages_written=WRITTEN_IN,
        rules=settings.meetings,
    )
