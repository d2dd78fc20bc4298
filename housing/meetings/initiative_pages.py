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
from housing.meetings.forms import (
    DraftForm,
    QuestionForm,
    draft_from_form,
    question_from_form,
)
from housing.meetings.models import MeetingQuestion
from housing.meetings.pages import meeting_of, redisplay
from housing.registry.models import Apartment, Building
from housing.registry.queries import home_apartment_ids
from housing.settings import Settings
from housing.validation import Id
from housing.web import render

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
    form: Annotated[DraftForm, Form()],
) -> Response:
    meeting, errors, typed = draft_from_form(request, session, actor, settings, now, form)
    if meeting is not None:
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
    form: Annotated[QuestionForm, Form()],
) -> Response:
    fields = form.fields
    try:
        errors, typed = question_from_form(request, session, actor, meeting, now, form)
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
