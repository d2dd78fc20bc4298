"""Reading a meeting's parts in a few queries: its texts, agenda, documents, events, proxies and
roll, its stored files, and all votes of its building.
"""

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from housing import filestore
from housing.meetings.models import (
    Meeting,
    MeetingDocument,
    MeetingEvent,
    MeetingProxy,
    MeetingQuestion,
    MeetingText,
    MeetingVoter,
    QuestionText,
)
from housing.registry.models import (
    Apartment,
)


def read_document(document: MeetingDocument, *, settings: Any) -> bytes:
    return filestore.read(settings.meetings.document_dir, document.file)


def read_file(name: str, *, settings: Any) -> bytes:
    """A proxy's power of attorney or a paper ballot's scan, by its stored name."""
    return filestore.read(settings.meetings.document_dir, name)


def texts_of(session: Session, meeting_ids: Iterable[int]) -> dict[int, dict[str, MeetingText]]:
    found: dict[int, dict[str, MeetingText]] = {}
    ids = list(meeting_ids)
    if ids:
        for text in session.exec(select(MeetingText).where(col(MeetingText.meeting_id).in_(ids))):
            found.setdefault(text.meeting_id, {})[text.language] = text
    return found


def questions_of(session: Session, meeting: Meeting) -> list[MeetingQuestion]:
    query = select(MeetingQuestion).where(MeetingQuestion.meeting_id == meeting.id)
    return list(session.exec(query.order_by(MeetingQuestion.position)))


def question_texts_of(session: Session, question_ids: Iterable[int]) -> dict[int, dict[str, QuestionText]]:
    found: dict[int, dict[str, QuestionText]] = {}
    ids = list(question_ids)
    if ids:
        for text in session.exec(select(QuestionText).where(col(QuestionText.question_id).in_(ids))):
            found.setdefault(text.question_id, {})[text.language] = text
    return found


def documents_of(session: Session, meeting: Meeting) -> list[MeetingDocument]:
    query = select(MeetingDocument).where(MeetingDocument.meeting_id == meeting.id)
    return list(session.exec(query.order_by(MeetingDocument.id)))


def events_of(session: Session, meeting: Meeting) -> list[MeetingEvent]:
    query = select(MeetingEvent).where(MeetingEvent.meeting_id == meeting.id)
    return list(session.exec(query.order_by(MeetingEvent.id)))


def proxies_of(session: Session, meeting: Meeting) -> list[MeetingProxy]:
    query = select(MeetingProxy).where(MeetingProxy.meeting_id == meeting.id)
    return list(session.exec(query.order_by(MeetingProxy.id)))


def roll_of(session: Session, meeting: Meeting) -> list[MeetingVoter]:
    query = select(MeetingVoter).where(MeetingVoter.meeting_id == meeting.id)
    return list(session.exec(query.order_by(MeetingVoter.id)))


def building_total(session: Session, building_id: int) -> Fraction:
    """All votes of a building: the area of all its premises, residential or not (m2)."""
    total = session.exec(
        select(func.sum(Apartment.area_m2)).where(Apartment.building_id == building_id)
    ).one()
    return Fraction(Decimal(total or 0))
