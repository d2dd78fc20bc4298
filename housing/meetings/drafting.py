"""Drafting an owners' meeting: its texts and voting period, the questions on its agenda
(each with what it would decide), and the documents attached to them.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from housing import filestore
from housing.accounts.models import Role
from housing.actors import Actor
from housing.errors import Conflict, Invalid
from housing.meetings.guards import (
    EFFECTIVE_AHEAD,
    MAX_DOCUMENTS,
    MAX_FEE_MINOR,
    MAX_QUESTIONS,
    QUESTION_TITLE_CHARS,
    TITLE_CHARS,
    Texts,
    check_period,
    city_day,
    clean_texts,
    current_company_id,
    is_id,
    lock_meeting,
    owned_in_building,
    plain_text,
    record_event,
    refuse_readers,
    require_editable,
    require_organizer,
    staff_of_building,
)
from housing.meetings.models import (
    InitiatorKind,
    Meeting,
    MeetingDocument,
    MeetingQuestion,
    MeetingSignature,
    MeetingStatus,
    MeetingText,
    QuestionText,
)
from housing.meetings.queries import ORGANIZERS
from housing.meetings.rules import (
    DecisionKind,
)
from housing.registry.models import (
    Building,
    ManagementCompany,
)
from housing.settings import MeetingSettings

# Drafting


def draft_meeting(
    session: Session,
    actor: Actor,
    *,
    building_id: int,
    texts: Texts,
    voting_starts: datetime,
    voting_ends: datetime,
    now: datetime,
) -> Meeting:
    """A new draft: the managing company's managers and admins draft a meeting; an owner of the
    building drafts an owners' initiative (status `initiative`), which gathers signatures."""
    refuse_readers(actor)
    day = city_day(now)
    building = session.get(Building, building_id) if is_id(building_id) else None
    if building is None:
        raise Invalid(f"building {building_id} does not exist", field="building_id")
    if actor.role is Role.admin:
        initiator, company_id, status = InitiatorKind.admin, None, MeetingStatus.draft
    elif staff_of_building(session, actor, building_id, day, ORGANIZERS):
        initiator, company_id, status = InitiatorKind.company, actor.company_id, MeetingStatus.draft
    elif (
        actor.role is Role.resident
        and actor.person_id is not None
        and owned_in_building(session, actor.person_id, building_id, day)
    ):
        initiator, company_id, status = InitiatorKind.owners, None, MeetingStatus.initiative
    else:
        raise Invalid(f"building {building_id} is not one you may hold a meeting in", field="building_id")
    cleaned = clean_texts(texts, title_chars=TITLE_CHARS)
    starts, ends = check_period(voting_starts, voting_ends, now)
    meeting = Meeting(
        building_id=building_id,
        initiator=initiator,
        created_by=actor.user_id,
        company_id=company_id,
        status=status,
        voting_starts=starts,
        voting_ends=ends,
        created_at=now,
        updated_at=now,
    )
    session.add(meeting)
    session.flush()
    for language, (title, body) in cleaned.items():
        session.add(MeetingText(meeting_id=meeting.id, language=language, title=title, body=body))
    record_event(
        session,
        meeting,
        actor,
        "drafted",
        f"{initiator.value}; voting {starts:%Y-%m-%d %H:%M} to {ends:%Y-%m-%d %H:%M} UTC",
        now,
    )
    session.flush()
    return meeting


def _refuse_if_signed(session: Session, meeting: Meeting) -> None:
    signed = session.exec(select(func.count()).where(MeetingSignature.meeting_id == meeting.id)).one()
    if signed:
        raise Conflict("owners have signed this initiative; what they signed can no longer change")


def update_meeting(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    texts: Texts | None = None,
    voting_starts: datetime | None = None,
    voting_ends: datetime | None = None,
    now: datetime,
) -> Meeting:
    """Changes a draft's (or an unsigned initiative's) texts (all of them: languages left out
    are removed) and voting period."""
    require_organizer(session, actor, meeting, now)
    meeting = lock_meeting(session, meeting)  # edits and the publishing take turns
    require_editable(meeting)
    _refuse_if_signed(session, meeting)
    cleaned = clean_texts(texts, title_chars=TITLE_CHARS) if texts is not None else None
    starts, ends = meeting.voting_starts, meeting.voting_ends
    if voting_starts is not None or voting_ends is not None:
        starts, ends = check_period(
            voting_starts if voting_starts is not None else starts,
            voting_ends if voting_ends is not None else ends,
            now,
        )
    changed = []
    if cleaned is not None:
        session.execute(delete(MeetingText).where(col(MeetingText.meeting_id) == meeting.id))
        for language, (title, body) in cleaned.items():
            session.add(MeetingText(meeting_id=meeting.id, language=language, title=title, body=body))
        changed.append("texts " + ", ".join(cleaned))
    if (starts, ends) != (meeting.voting_starts, meeting.voting_ends):
        meeting.voting_starts, meeting.voting_ends = starts, ends
        changed.append(f"voting {starts:%Y-%m-%d %H:%M} to {ends:%Y-%m-%d %H:%M} UTC")
    meeting.updated_at = now
    session.add(meeting)
    record_event(session, meeting, actor, "updated", "; ".join(changed) or "nothing changed", now)
    session.flush()
    return meeting


# The agenda


def _check_effective(effective_from: Any, meeting: Meeting, field: str = "effective_from") -> date:
    if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
        raise Invalid("give the date the decision takes effect", field=field)
    last_day = city_day(meeting.voting_ends)
    if effective_from > last_day + EFFECTIVE_AHEAD:
        raise Invalid(
            f"a decision takes effect within {EFFECTIVE_AHEAD.days} days after the voting ends", field=field
        )
    if effective_from <= last_day:
        raise Invalid(
            f"a decision takes effect after the voting ends: {last_day} is voting's last day",
            field=field,
        )
    return effective_from


def add_question(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    kind: DecisionKind | str,
    texts: Texts,
    company_id: int | None = None,
    fee_minor: int | None = None,
    effective_from: date | None = None,
    now: datetime,
) -> MeetingQuestion:
    """Appends a question: a management_company one names another existing company and the
    date it takes over; a management_fee one a fee (tiyin per m2 a month) and its first day."""
    require_organizer(session, actor, meeting, now)
    meeting = lock_meeting(session, meeting)  # edits and the publishing take turns
    require_editable(meeting)
    _refuse_if_signed(session, meeting)
    try:
        kind = DecisionKind(kind)
    except ValueError:
        raise Invalid(f"{kind!r} is not a decision kind: {', '.join(DecisionKind)}", field="kind") from None
    cleaned = clean_texts(texts, title_chars=QUESTION_TITLE_CHARS)
    if kind is DecisionKind.management_company:
        if company_id is None:
            raise Invalid("name the company the owners would choose", field="company_id")
        if not is_id(company_id) or session.get(ManagementCompany, company_id) is None:
            raise Invalid(f"company {company_id} does not exist", field="company_id")
        if company_id == current_company_id(session, meeting.building_id, city_day(now)):
            raise Invalid(f"company {company_id} already manages this building", field="company_id")
    elif company_id is not None:
        raise Invalid("only a management_company question names a company", field="company_id")
    if kind is DecisionKind.management_fee:
        if (
            isinstance(fee_minor, bool)
            or not isinstance(fee_minor, int)
            or not 0 < fee_minor <= MAX_FEE_MINOR
        ):
            raise Invalid(
                f"the fee is a whole number of tiyin per m2 from 1 to {MAX_FEE_MINOR}", field="fee_minor"
            )
    elif fee_minor is not None:
        raise Invalid("only a management_fee question sets a fee", field="fee_minor")
    if kind in (DecisionKind.management_company, DecisionKind.management_fee) and effective_from is None:
        raise Invalid("give the date the decision takes effect", field="effective_from")
    if effective_from is not None:
        effective_from = _check_effective(effective_from, meeting)
    existing = session.exec(
        select(func.count(), func.max(MeetingQuestion.position)).where(
            MeetingQuestion.meeting_id == meeting.id
        )
    ).one()
    if existing[0] >= MAX_QUESTIONS:
        raise Conflict(f"a meeting has at most {MAX_QUESTIONS} questions")
    question = MeetingQuestion(
        meeting_id=meeting.id,
        position=(existing[1] or 0) + 1,
        kind=kind,
        company_id=company_id,
        fee_minor=fee_minor,
        effective_from=effective_from,
    )
    session.add(question)
    session.flush()
    for language, (title, body) in cleaned.items():
        session.add(QuestionText(question_id=question.id, language=language, title=title, body=body))
    record_event(
        session, meeting, actor, "question_added", f"question {question.position}: {kind.value}", now
    )
    session.flush()
    return question


def remove_question(session: Session, actor: Actor, question: MeetingQuestion, *, now: datetime) -> None:
    """Removes a question of a draft; its documents stay, on the meeting as a whole; the later
    questions move up."""
    meeting = session.get(Meeting, question.meeting_id)
    require_organizer(session, actor, meeting, now)
    meeting = lock_meeting(session, meeting)  # edits and the publishing take turns
    require_editable(meeting)
    _refuse_if_signed(session, meeting)
    position = question.position
    session.execute(
        update(MeetingDocument)
        .where(col(MeetingDocument.question_id) == question.id)
        .values(question_id=None)
    )
    session.execute(delete(QuestionText).where(col(QuestionText.question_id) == question.id))
    session.delete(question)
    session.flush()
    later = session.exec(
        select(MeetingQuestion)
        .where(MeetingQuestion.meeting_id == meeting.id, MeetingQuestion.position > position)
        .order_by(MeetingQuestion.position)
    )
    for other in list(later):
        other.position -= 1
        session.add(other)
        session.flush()
    record_event(session, meeting, actor, "question_removed", f"question {position}", now)
    session.flush()


def attach_document(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    title: str,
    data: bytes,
    question_id: int | None = None,
    settings: Any,
    now: datetime,
) -> MeetingDocument:
    """Adds a document (an image or a PDF) to a draft's agenda, for one question or the whole."""
    require_organizer(session, actor, meeting, now)
    meeting = lock_meeting(session, meeting)  # edits and the publishing take turns
    require_editable(meeting)
    _refuse_if_signed(session, meeting)
    title = plain_text(title.strip(), "title") if isinstance(title, str) else ""
    if not title or len(title) > TITLE_CHARS:
        raise Invalid(f"give the document a title of 1 to {TITLE_CHARS} characters", field="title")
    if question_id is not None:
        question = session.get(MeetingQuestion, question_id) if is_id(question_id) else None
        if question is None or question.meeting_id != meeting.id:
            raise Invalid(f"question {question_id} is not on this meeting's agenda", field="question_id")
    attached = session.exec(select(func.count()).where(MeetingDocument.meeting_id == meeting.id)).one()
    if attached >= MAX_DOCUMENTS:
        raise Conflict(f"a meeting has at most {MAX_DOCUMENTS} documents")
    group: MeetingSettings = settings.meetings
    stored = filestore.store(
        group.document_dir, f"m{meeting.id}-doc", data, max_bytes=group.max_document_bytes, field="data"
    )
    document = MeetingDocument(
        meeting_id=meeting.id,
        question_id=question_id,
        title=title,
        file=stored.name,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        uploaded_by=actor.user_id,
        created_at=now,
    )
    session.add(document)
    session.flush()
    record_event(session, meeting, actor, "document_attached", f"{title} ({stored.size_bytes} bytes)", now)
    session.flush()
    return document
