"""Plain factories for owners' meetings: actors, a drafted or published meeting, ballots.

Moments are fixed: a meeting drafted at `DRAFTED` votes from `STARTS` (15 days later, after
the 14 days' notice) to `ENDS` (10 days of voting); `VOTING` is a moment within it and
`AFTER` one after it.
"""

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pypdf import PdfWriter
from sqlmodel import Session

from housing.accounts.models import Role
from housing.actors import Actor
from housing.meetings import drafting, publishing, reading, voting
from housing.meetings.models import Meeting, MeetingQuestion
from housing.meetings.rules import Choice, DecisionKind
from housing.registry.models import Building, ManagementCompany, Person
from housing.registry.queries import current_manager_ids
from tests.factories.core import make_user

DRAFTED = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
STARTS = DRAFTED + timedelta(days=15)
ENDS = STARTS + timedelta(days=10)
VOTING = STARTS + timedelta(days=1)
AFTER = ENDS + timedelta(minutes=1)
TEXTS = {"en": ("General meeting", "The owners decide."), "ru": ("Общее собрание", "Собственники решают.")}


def actor_of(user) -> Actor:
    return Actor.of(user)


def resident(session: Session, person: Person, **kw) -> Actor:
    """A resident account of `person`, as an actor."""
    return Actor.of(make_user(session, Role.resident, person_id=person.id, **kw))


def staff(session: Session, company: ManagementCompany | int, role: Role = Role.manager) -> Actor:
    company_id = company if isinstance(company, int) else company.id
    return Actor.of(make_user(session, role, company_id=company_id))


def admin(session: Session) -> Actor:
    return Actor.of(make_user(session, Role.admin))


def manager_of(session: Session, building: Building, role: Role = Role.manager) -> Actor:
    """Staff of the company managing the building on the draft's day."""
    day = DRAFTED.date()
    company_id = dict(session.exec(current_manager_ids(day)).all())[building.id]
    return staff(session, company_id, role)


def draft(
    session: Session,
    actor: Actor,
    building: Building,
    *,
    kinds=(DecisionKind.ordinary,),
    starts: datetime = STARTS,
    ends: datetime = ENDS,
    now: datetime = DRAFTED,
    **question_fields,
) -> Meeting:
    """A draft with one question of each kind in `kinds` (`question_fields` go to each)."""
    meeting = drafting.draft_meeting(
        session, actor, building_id=building.id, texts=TEXTS, voting_starts=starts, voting_ends=ends, now=now
    )
    for position, kind in enumerate(kinds, 1):
        drafting.add_question(
            session,
            actor,
            meeting,
            kind=kind,
            texts={"en": (f"Question {position}", ""), "uz": (f"Savol {position}", "")},
            now=now,
            **question_fields,
        )
    return meeting


def published(
    session: Session, settings, building: Building, *, kinds=(DecisionKind.ordinary,), actor=None, **kw
) -> Meeting:
    """A meeting of the building's company, published at `DRAFTED` (record date that day)."""
    actor = actor or manager_of(session, building)
    meeting = draft(session, actor, building, kinds=kinds, **kw)
    return publishing.publish_meeting(session, actor, meeting, settings=settings, now=kw.get("now", DRAFTED))


def questions(session: Session, meeting: Meeting) -> list[MeetingQuestion]:
    return reading.questions_of(session, meeting)


def vote(session: Session, actor: Actor, meeting: Meeting, choices, *, voter_id=None, now=VOTING):
    """Casts `actor`'s ballot: `choices` one Choice per question in order (or one for all)."""
    qs = questions(session, meeting)
    if isinstance(choices, Choice | str):
        choices = [choices] * len(qs)
    if voter_id is None:
        entries = [e for e in voting.voter_entries(session, actor, meeting) if e.ballot is None]
        voter_id = entries[0].voter_id
    answers = {q.id: Choice(c) for q, c in zip(qs, choices, strict=True)}
    return voting.cast_ballot(session, actor, meeting, voter_id=voter_id, answers=answers, now=now)


def record_day() -> date:
    return DRAFTED.date()


def with_files(settings, directory: Path):
    """`settings` with meeting files stored under `directory` (a test's tmp_path)."""
    meetings = settings.meetings.model_copy(update={"document_dir": directory})
    return settings.model_copy(update={"meetings": meetings})


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
