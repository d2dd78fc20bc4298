"""Owners' meeting verbs: draft, agenda, documents, initiative signatures, publish (the roll),
cancel, ballots (online and paper), proxies, turnout, close (the count and its effects), and the
register of ballots. Flush, never commit; every verb checks everything before it writes, so a
refused call leaves nothing behind, and appends a `MeetingEvent` (who, what, when).

Who may do what (the role sets are in `queries`):
- a company's meeting or an admin's: the managing company's managers (`ORGANIZERS`) and admins
  draft, edit, publish and cancel it; an owners' initiative: its initiator (the owner who
  drafted it) and admins, never the company;
- once published, the vote is run by the managing company's staff and admins, whoever
  initiated it: `CLERKS` enter paper ballots and upload proxies, `ORGANIZERS` decide proxies
  and close (the `close-meetings` job closes too); officials only read.

The one-ballot rule: each roll entry (an ownership share on the record date) has at most one
ballot, the first one appended, whoever cast it: the owner online, their accepted proxy, or
staff from a paper ballot. Everything after it for that share is refused, saying which ballot
already stands. An accepted proxy takes the share's vote from the owner; a proxy cannot be
accepted for a share that has voted. Ballots are accepted in [voting_starts, voting_ends)
only, and a ballot and the close both lock the meeting row, so a ballot racing the close is
either counted or refused (docs/meetings.md says all of it).

It is over 500 lines because the verbs of one meeting share its checks (who runs it, the
phase, the one-ballot rule, the lock) and those are kept next to the verbs that rely on them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from sqlalchemy import BigInteger, Integer, String, delete, func, literal, union_all, update
from sqlmodel import Session, col, select

from housing import clock
from housing.accounts.models import Role
from housing.actors import Actor
from housing.announcements.languages import WRITTEN_IN
from housing.errors import Conflict, DomainError, Forbidden, Invalid
from housing.meetings import chain, documents, notices
from housing.meetings.counting import Count, QuestionCount, RollEntry, count
from housing.meetings.models import (
    Ballot,
    BallotAnswer,
    BallotChannel,
    BuildingDecision,
    InitiatorKind,
    Meeting,
    MeetingDocument,
    MeetingEvent,
    MeetingProxy,
    MeetingQuestion,
    MeetingSignature,
    MeetingStatus,
    MeetingText,
    MeetingVoter,
    ProxyStatus,
    QuestionText,
)
from housing.meetings.phases import Phase, editable, phase
from housing.meetings.queries import CLERKS, ORGANIZERS
from housing.meetings.rules import (
    Choice,
    DecisionKind,
    MeetingRules,
    Outcome,
    as_text,
    from_text,
    percent,
    shown,
    weight,
)
from housing.registry import service as registry
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    ManagementCompany,
    Ownership,
    Person,
)
from housing.registry.periods import in_force
from housing.settings import CITY_TIMEZONE, MeetingSettings
from housing.validation import check_text

MAX_QUESTIONS = 50
MAX_DOCUMENTS = 50
TITLE_CHARS = 200
QUESTION_TITLE_CHARS = 300
BODY_CHARS = 5000
REASON_CHARS = 300
PLAN_AHEAD = timedelta(days=366)  # voting starts within a year, and lasts less than one
EFFECTIVE_AHEAD = timedelta(days=731)  # a decision takes effect within two years of the vote
MAX_FEE_MINOR = 10**9  # tiyin per m2 a month: ten million UZS is a typo, not a fee

Texts = Mapping[str, tuple[str, str]]


# Small helpers: the day, events, who runs the building


def _day(now: datetime, timezone: str = CITY_TIMEZONE) -> date:
    return clock.local_day(now, timezone)


def _plain(text: str, field: str) -> str:
    """Text that may be stored: no NUL nor other control characters (tab and line breaks pass)."""
    try:
        return check_text(text)
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from None


def _is_id(value: Any) -> bool:
    """A row id as the database holds it (not a bool, not out of range)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _aware(moment: Any, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise Invalid("give a date and time with its time zone", field=field)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise Invalid("give a date and time in this century", field=field) from None


def _event(
    session: Session, meeting: Meeting, actor: Actor | None, action: str, detail: str, now: datetime
) -> None:
    session.add(
        MeetingEvent(
            meeting_id=meeting.id,
            user_id=actor.user_id if actor else None,
            action=action,
            detail=detail[:500],
            at=now,
        )
    )


def current_company_id(session: Session, building_id: int, day: date) -> int | None:
    """The company managing the building on `day`."""
    return session.exec(
        select(BuildingManagement.company_id).where(
            BuildingManagement.building_id == building_id, in_force(BuildingManagement, day)
        )
    ).first()


def _refuse_readers(actor: Actor) -> None:
    if actor.role is Role.official:
        raise Forbidden("officials read meetings; they do not run them")


def _staff_of_building(
    session: Session, actor: Actor, building_id: int, day: date, roles: frozenset[Role]
) -> bool:
    if actor.role not in roles:
        return False
    if actor.role is Role.admin:
        return True
    return actor.company_id is not None and current_company_id(session, building_id, day) == actor.company_id


def _require_organizer(session: Session, actor: Actor, meeting: Meeting, now: datetime) -> None:
    """Edits, publishes or cancels: an owners' initiative's initiator or an admin; any other
    meeting's building's managers or an admin."""
    _refuse_readers(actor)
    if actor.role is Role.admin:
        return
    if InitiatorKind(meeting.initiator) is InitiatorKind.owners:
        if actor.user_id != meeting.created_by:
            raise Forbidden("only the owner who started this initiative (or an admin) changes it")
        return
    if not _staff_of_building(session, actor, meeting.building_id, _day(now), ORGANIZERS):
        raise Forbidden(
            "only the managers of the company managing this building (or an admin) run its meetings"
        )


def _require_staff(
    session: Session, actor: Actor | None, meeting: Meeting, now: datetime, roles: frozenset[Role]
) -> None:
    """Runs the vote: the managing company's staff in `roles`, or an admin."""
    if actor is None:
        return
    _refuse_readers(actor)
    if not _staff_of_building(session, actor, meeting.building_id, _day(now), roles):
        names = ", ".join(sorted(r.value for r in roles - {Role.admin}))
        raise Forbidden(f"only the managing company's staff ({names}) or an admin do this")


def _require_editable(meeting: Meeting) -> None:
    if not editable(meeting):
        raise Conflict(f"the meeting is {meeting.status}; its agenda can no longer change")


def _lock(session: Session, meeting: Meeting) -> Meeting:
    """The meeting row again, locked until the transaction ends (PostgreSQL), and fresh."""
    query = select(Meeting).where(Meeting.id == meeting.id).with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()


def _clean_texts(texts: Any, *, title_chars: int, field: str = "texts") -> dict[str, tuple[str, str]]:
    if not isinstance(texts, Mapping) or not texts:
        raise Invalid("write the title in at least one of uz, ru, en", field=field)
    cleaned = {}
    for language, value in texts.items():
        if language not in WRITTEN_IN:
            raise Invalid(f"{language!r} is not one of the languages uz, ru, en", field=field)
        if (
            not isinstance(value, tuple | list)
            or len(value) != 2
            or not all(isinstance(v, str) for v in value)
        ):
            raise Invalid(f"the {language} text is a title and a body", field=field)
        title, body = _plain(value[0].strip(), field), _plain(value[1].strip(), field)
        if not title:
            raise Invalid(f"the {language} title is empty", field=field)
        if len(title) > title_chars:
            raise Invalid(f"the {language} title is longer than {title_chars} characters", field=field)
        if len(body) > BODY_CHARS:
            raise Invalid(f"the {language} text is longer than {BODY_CHARS} characters", field=field)
        cleaned[language] = (title, body)
    return cleaned


def _check_period(starts: Any, ends: Any, now: datetime) -> tuple[datetime, datetime]:
    starts, ends = _aware(starts, "voting_starts"), _aware(ends, "voting_ends")
    if starts <= now:
        raise Invalid("voting must start in the future", field="voting_starts")
    if starts > now + PLAN_AHEAD:
        raise Invalid(f"voting starts within {PLAN_AHEAD.days} days from now", field="voting_starts")
    if ends <= starts:
        raise Invalid("voting must end after it starts", field="voting_ends")
    if ends > starts + PLAN_AHEAD:
        raise Invalid(f"voting lasts less than {PLAN_AHEAD.days} days", field="voting_ends")
    return starts, ends


def _owned_in_building(session: Session, person_id: int, building_id: int, day: date) -> list[Ownership]:
    query = (
        select(Ownership)
        .join(Apartment, col(Apartment.id) == Ownership.apartment_id)
        .where(
            Apartment.building_id == building_id, Ownership.person_id == person_id, in_force(Ownership, day)
        )
        .order_by(Ownership.id)
    )
    return list(session.exec(query))


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
    _refuse_readers(actor)
    day = _day(now)
    building = session.get(Building, building_id) if _is_id(building_id) else None
    if building is None:
        raise Invalid(f"building {building_id} does not exist", field="building_id")
    if actor.role is Role.admin:
        initiator, company_id, status = InitiatorKind.admin, None, MeetingStatus.draft
    elif _staff_of_building(session, actor, building_id, day, ORGANIZERS):
        initiator, company_id, status = InitiatorKind.company, actor.company_id, MeetingStatus.draft
    elif (
        actor.role is Role.resident
        and actor.person_id is not None
        and _owned_in_building(session, actor.person_id, building_id, day)
    ):
        initiator, company_id, status = InitiatorKind.owners, None, MeetingStatus.initiative
    else:
        raise Invalid(f"building {building_id} is not one you may hold a meeting in", field="building_id")
    cleaned = _clean_texts(texts, title_chars=TITLE_CHARS)
    starts, ends = _check_period(voting_starts, voting_ends, now)
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
    _event(
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
    _require_organizer(session, actor, meeting, now)
    meeting = _lock(session, meeting)  # edits and the publishing take turns
    _require_editable(meeting)
    _refuse_if_signed(session, meeting)
    cleaned = _clean_texts(texts, title_chars=TITLE_CHARS) if texts is not None else None
    starts, ends = meeting.voting_starts, meeting.voting_ends
    if voting_starts is not None or voting_ends is not None:
        starts, ends = _check_period(
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
    _event(session, meeting, actor, "updated", "; ".join(changed) or "nothing changed", now)
    session.flush()
    return meeting


# The agenda


def _check_effective(effective_from: Any, meeting: Meeting, field: str = "effective_from") -> date:
    if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
        raise Invalid("give the date the decision takes effect", field=field)
    last_day = _day(meeting.voting_ends)
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
    _require_organizer(session, actor, meeting, now)
    meeting = _lock(session, meeting)  # edits and the publishing take turns
    _require_editable(meeting)
    _refuse_if_signed(session, meeting)
    try:
        kind = DecisionKind(kind)
    except ValueError:
        raise Invalid(f"{kind!r} is not a decision kind: {', '.join(DecisionKind)}", field="kind") from None
    cleaned = _clean_texts(texts, title_chars=QUESTION_TITLE_CHARS)
    if kind is DecisionKind.management_company:
        if company_id is None:
            raise Invalid("name the company the owners would choose", field="company_id")
        if not _is_id(company_id) or session.get(ManagementCompany, company_id) is None:
            raise Invalid(f"company {company_id} does not exist", field="company_id")
        if company_id == current_company_id(session, meeting.building_id, _day(now)):
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
    _event(session, meeting, actor, "question_added", f"question {question.position}: {kind.value}", now)
    session.flush()
    return question


def remove_question(session: Session, actor: Actor, question: MeetingQuestion, *, now: datetime) -> None:
    """Removes a question of a draft; its documents stay, on the meeting as a whole; the later
    questions move up."""
    meeting = session.get(Meeting, question.meeting_id)
    _require_organizer(session, actor, meeting, now)
    meeting = _lock(session, meeting)  # edits and the publishing take turns
    _require_editable(meeting)
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
    _event(session, meeting, actor, "question_removed", f"question {position}", now)
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
    _require_organizer(session, actor, meeting, now)
    meeting = _lock(session, meeting)  # edits and the publishing take turns
    _require_editable(meeting)
    _refuse_if_signed(session, meeting)
    title = _plain(title.strip(), "title") if isinstance(title, str) else ""
    if not title or len(title) > TITLE_CHARS:
        raise Invalid(f"give the document a title of 1 to {TITLE_CHARS} characters", field="title")
    if question_id is not None:
        question = session.get(MeetingQuestion, question_id) if _is_id(question_id) else None
        if question is None or question.meeting_id != meeting.id:
            raise Invalid(f"question {question_id} is not on this meeting's agenda", field="question_id")
    attached = session.exec(select(func.count()).where(MeetingDocument.meeting_id == meeting.id)).one()
    if attached >= MAX_DOCUMENTS:
        raise Conflict(f"a meeting has at most {MAX_DOCUMENTS} documents")
    group: MeetingSettings = settings.meetings
    stored = documents.store(
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
    _event(session, meeting, actor, "document_attached", f"{title} ({stored.size_bytes} bytes)", now)
    session.flush()
    return document


def read_document(document: MeetingDocument, *, settings: Any) -> bytes:
    return documents.read(settings.meetings.document_dir, document.file)


def read_file(name: str, *, settings: Any) -> bytes:
    """A proxy's power of attorney or a paper ballot's scan, by its stored name."""
    return documents.read(settings.meetings.document_dir, name)


# The owners' initiative


def sign_initiative(
    session: Session, actor: Actor, meeting: Meeting, *, now: datetime
) -> list[MeetingSignature]:
    """The actor signs for every share they own in the building today; returns the new signatures."""
    meeting = _lock(session, meeting)  # signatures and the publishing take turns
    if MeetingStatus(meeting.status) is not MeetingStatus.initiative:
        raise Conflict("only an owners' initiative gathers signatures")
    if actor.role is not Role.resident or actor.person_id is None:
        raise Forbidden("owners of the building sign an initiative")
    day = _day(now)
    owned = _owned_in_building(session, actor.person_id, meeting.building_id, day)
    if not owned:
        raise Forbidden("you own no premises in this building, so you cannot sign")
    signed = set(
        session.exec(
            select(MeetingSignature.ownership_id).where(
                MeetingSignature.meeting_id == meeting.id,
                col(MeetingSignature.ownership_id).in_([o.id for o in owned]),
            )
        )
    )
    new = [o for o in owned if o.id not in signed]
    if not new:
        raise Conflict("you have already signed this initiative")
    areas = dict(
        session.exec(
            select(Apartment.id, Apartment.area_m2).where(
                col(Apartment.id).in_([o.apartment_id for o in new])
            )
        ).all()
    )
    signatures = [
        MeetingSignature(
            meeting_id=meeting.id,
            ownership_id=o.id,
            person_id=o.person_id,
            user_id=actor.user_id,
            share_numerator=o.share_numerator,
            share_denominator=o.share_denominator,
            area_m2=areas[o.apartment_id],
            signed_at=now,
        )
        for o in new
    ]
    session.add_all(signatures)
    _event(session, meeting, actor, "signed", f"{len(signatures)} share(s)", now)
    session.flush()
    return signatures


def building_total(session: Session, building_id: int) -> Fraction:
    """All votes of a building: the area of all its premises, residential or not (m2)."""
    total = session.exec(
        select(func.sum(Apartment.area_m2)).where(Apartment.building_id == building_id)
    ).one()
    return Fraction(Decimal(total or 0))


def initiative_support(session: Session, meeting: Meeting, *, today: date) -> tuple[Fraction, Fraction]:
    """(signed weight, all votes) in m2: signatures count while their ownership is in force."""
    rows = session.exec(
        select(MeetingSignature.share_numerator, MeetingSignature.share_denominator, MeetingSignature.area_m2)
        .join(Ownership, col(Ownership.id) == MeetingSignature.ownership_id)
        .where(MeetingSignature.meeting_id == meeting.id, in_force(Ownership, today))
    )
    signed = sum((weight(n, d, area) for n, d, area in rows), Fraction(0))
    return signed, building_total(session, meeting.building_id)


# Publishing and cancelling


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


def publish_meeting(
    session: Session, actor: Actor, meeting: Meeting, *, settings: Any, now: datetime
) -> Meeting:
    """Gives notice: checks the agenda and the periods (and an initiative's signatures), fixes
    the record date (the city's day of `now`), the roll (ownerships in force that day) and all
    votes (the area of all the building's premises), and notifies every owner on the roll."""
    _require_organizer(session, actor, meeting, now)
    meeting = _lock(session, meeting)
    _require_editable(meeting)
    rules = MeetingRules.of(settings)
    timezone = settings.timezone
    day = _day(now, timezone)
    questions = questions_of(session, meeting)
    if not questions:
        raise Invalid("put at least one question on the agenda", field="questions")
    if not texts_of(session, [meeting.id]).get(meeting.id):
        raise Invalid("give the meeting a title in at least one of uz, ru, en", field="texts")
    worded = question_texts_of(session, [q.id for q in questions])
    for question in questions:
        if not worded.get(question.id):
            raise Invalid(f"question {question.position} has no text", field="questions")
    if meeting.voting_starts - now < rules.notice:
        raise Invalid(
            f"voting must start at least {rules.notice.days} days after the notice;"
            f" publish by {notices.local(meeting.voting_starts - rules.notice, timezone)} or move the start",
            field="voting_starts",
        )
    length = meeting.voting_ends - meeting.voting_starts
    if not rules.shortest_vote <= length <= rules.longest_vote:
        raise Invalid(
            f"voting lasts {rules.shortest_vote.days} to {rules.longest_vote.days} days", field="voting_ends"
        )
    last_day = _day(meeting.voting_ends)
    current = current_company_id(session, meeting.building_id, day)
    for question in questions:
        if question.effective_from is not None and question.effective_from <= last_day:
            raise Invalid(
                f"question {question.position} would take effect on {question.effective_from},"
                f" not after the voting ends on {last_day}",
                field="questions",
            )
        if question.kind == DecisionKind.management_company and question.company_id == current:
            raise Invalid(
                f"question {question.position}: company {current} already manages this building",
                field="questions",
            )
    total = building_total(session, meeting.building_id)
    if total <= 0:
        raise Invalid("the building has no premises in the register, so it has no votes", field="building_id")
    roll = session.exec(
        select(Ownership, Apartment.area_m2)
        .join(Apartment, col(Apartment.id) == Ownership.apartment_id)
        .where(Apartment.building_id == meeting.building_id, in_force(Ownership, day))
        .order_by(Apartment.id, Ownership.id)
    ).all()
    if not roll:
        raise Invalid(
            f"nobody owns premises in this building on {day}: there is nobody to vote", field="building_id"
        )
    if InitiatorKind(meeting.initiator) is InitiatorKind.owners:
        signed, _ = initiative_support(session, meeting, today=day)
        if signed < rules.initiative_share * total:
            raise Conflict(
                f"the initiative's signatures hold {shown(percent(signed, total))}% of all votes;"
                f" it needs {shown(rules.initiative_share * 100)}%"
            )
    meeting.status = MeetingStatus.published
    meeting.published_at = now
    meeting.record_date = day
    meeting.total_area_m2 = Decimal(total.numerator) / Decimal(total.denominator)
    meeting.updated_at = now
    session.add(meeting)
    session.add_all(
        MeetingVoter(
            meeting_id=meeting.id,
            ownership_id=ownership.id,
            apartment_id=ownership.apartment_id,
            person_id=ownership.person_id,
            share_numerator=ownership.share_numerator,
            share_denominator=ownership.share_denominator,
            area_m2=area,
        )
        for ownership, area in roll
    )
    session.flush()
    starts, ends = (
        notices.local(meeting.voting_starts, timezone),
        notices.local(meeting.voting_ends, timezone),
    )
    notified = notices.notify_owners(
        session,
        meeting,
        kind="meeting_notice",
        params_for=lambda language, text: {
            "title": text.title,
            "text": notices.short(text.body) if text.body else f"{starts} — {ends}",
            "starts": starts,
            "ends": ends,
        },
        dedupe=f"meeting:{meeting.id}:notice",
        now=now,
    )
    _event(
        session,
        meeting,
        actor,
        "published",
        f"record date {day}; roll of {len(roll)} shares; all votes {shown(total)} m2; {notified} owners notified",
        now,
    )
    session.flush()
    return meeting


def cancel_meeting(
    session: Session, actor: Actor, meeting: Meeting, *, reason: str, now: datetime
) -> Meeting:
    """Cancels a meeting before its voting starts, saying why; owners given notice are told."""
    _require_organizer(session, actor, meeting, now)
    meeting = _lock(session, meeting)
    reason = _plain(reason.strip(), "reason") if isinstance(reason, str) else ""
    if not reason or len(reason) > REASON_CHARS:
        raise Invalid(f"say why, in 1 to {REASON_CHARS} characters", field="reason")
    current = phase(meeting, now)
    if current not in (Phase.draft, Phase.initiative, Phase.notice):
        raise Conflict(f"the meeting is {current.value}: it can be cancelled only before voting starts")
    was_published = MeetingStatus(meeting.status) is MeetingStatus.published
    meeting.status = MeetingStatus.cancelled
    meeting.updated_at = now
    session.add(meeting)
    if was_published:  # the owners were given notice: they are told it is off
        notices.notify_owners(
            session,
            meeting,
            kind="meeting_cancelled",
            params_for=lambda language, text: {"title": text.title, "reason": reason},
            dedupe=f"meeting:{meeting.id}:cancelled",
            now=now,
        )
    _event(session, meeting, actor, "cancelled", reason, now)
    session.flush()
    return meeting


# Who votes for what


@dataclass(frozen=True)
class VoterEntry:
    voter_id: int
    apartment_id: int
    apartment_number: str
    owner_person_id: int
    owner_name: str
    share: Fraction
    weight: Fraction
    proxy_id: int | None  # the accepted proxy this actor votes through, None for their own share
    ballot: Ballot | None

    @property
    def as_proxy(self) -> bool:
        return self.proxy_id is not None


def _accepted_proxy(session: Session, voter_id: int) -> MeetingProxy | None:
    return session.exec(
        select(MeetingProxy).where(
            MeetingProxy.voter_id == voter_id, MeetingProxy.status == ProxyStatus.accepted
        )
    ).first()


def voter_entries(session: Session, actor: Actor, meeting: Meeting) -> list[VoterEntry]:
    """The roll entries this actor votes for: their own shares unless an accepted proxy holds
    them, and those they hold an accepted proxy for; each with its ballot if cast."""
    if actor.person_id is None or MeetingStatus(meeting.status) not in (
        MeetingStatus.published,
        MeetingStatus.closed,
    ):
        return []
    accepted = {
        p.voter_id: p
        for p in session.exec(
            select(MeetingProxy).where(
                MeetingProxy.meeting_id == meeting.id, MeetingProxy.status == ProxyStatus.accepted
            )
        )
    }
    query = (
        select(MeetingVoter, Apartment.number, Person.full_name)
        .join(Apartment, col(Apartment.id) == MeetingVoter.apartment_id)
        .join(Person, col(Person.id) == MeetingVoter.person_id)
        .where(MeetingVoter.meeting_id == meeting.id)
        .order_by(Apartment.id, MeetingVoter.id)
    )
    mine = [
        (voter, number, name)
        for voter, number, name in session.exec(query)
        if (voter.person_id == actor.person_id and voter.id not in accepted)
        or (voter.id in accepted and accepted[voter.id].proxy_person_id == actor.person_id)
    ]
    ballots = {
        b.voter_id: b
        for b in session.exec(
            select(Ballot).where(
                Ballot.meeting_id == meeting.id, col(Ballot.voter_id).in_([v.id for v, _, _ in mine])
            )
        )
    }
    return [
        VoterEntry(
            voter_id=voter.id,
            apartment_id=voter.apartment_id,
            apartment_number=number,
            owner_person_id=voter.person_id,
            owner_name=name,
            share=Fraction(voter.share_numerator, voter.share_denominator),
            weight=weight(voter.share_numerator, voter.share_denominator, voter.area_m2),
            proxy_id=accepted[voter.id].id if voter.id in accepted else None,
            ballot=ballots.get(voter.id),
        )
        for voter, number, name in mine
    ]


# Ballots


def _voting_open(meeting: Meeting, now: datetime) -> None:
    current = phase(meeting, now)
    if current is Phase.voting:
        return
    if current is Phase.notice:
        raise Conflict(f"voting starts at {meeting.voting_starts:%Y-%m-%d %H:%M} UTC; no ballot before then")
    if current in (Phase.counting, Phase.closed):
        raise Conflict(f"voting ended at {meeting.voting_ends:%Y-%m-%d %H:%M} UTC; no ballot after it")
    raise Conflict(f"the meeting is {current.value}: it takes no ballots")


def _roll_entry(session: Session, meeting: Meeting, voter_id: Any) -> MeetingVoter:
    voter = session.get(MeetingVoter, voter_id) if _is_id(voter_id) else None
    if voter is None or voter.meeting_id != meeting.id:
        raise Invalid(f"roll entry {voter_id} is not on this meeting's roll", field="voter_id")
    return voter


def _refuse_second(session: Session, meeting: Meeting, voter: MeetingVoter) -> None:
    """The one-ballot rule: the first ballot of a share stands; say which one it is."""
    ballot = session.exec(
        select(Ballot).where(Ballot.meeting_id == meeting.id, Ballot.voter_id == voter.id)
    ).first()
    if ballot is None:
        return
    when = f"{ballot.cast_at:%Y-%m-%d %H:%M} UTC"
    receipt = chain.receipt_of(ballot.hash)
    if BallotChannel(ballot.channel) is BallotChannel.paper:
        why = f"a paper ballot for this share was entered at {when}"
    elif ballot.proxy_id is not None:
        why = f"the proxy voted for this share online at {when}"
    else:
        why = f"the owner voted for this share online at {when}"
    raise Conflict(f"{why} (receipt {receipt}); each share has one ballot, the first", field="voter_id")


def _clean_answers(session: Session, meeting: Meeting, answers: Any, *, complete: bool) -> dict[int, Choice]:
    questions = {q.id: q.position for q in questions_of(session, meeting)}
    if not isinstance(answers, Mapping) or not answers:
        raise Invalid("answer at least one question", field="answers")
    cleaned = {}
    for key, choice in answers.items():
        question_id = int(key) if isinstance(key, str) and key.isdecimal() and len(key) < 10 else key
        if question_id not in questions:
            raise Invalid(f"question {question_id} is not on this meeting's agenda", field="answers")
        try:
            cleaned[question_id] = Choice(choice)
        except ValueError:
            raise Invalid(f"{choice!r} is not for, against or abstain", field="answers") from None
    missing = sorted(position for question_id, position in questions.items() if question_id not in cleaned)
    if complete and missing:
        raise Invalid(
            f"answer every question (for, against or abstain): {', '.join(map(str, missing))} left",
            field="answers",
        )
    return dict(sorted(cleaned.items()))


def ballot_fields(
    meeting_id: int,
    sequence: int,
    voter: MeetingVoter,
    channel: BallotChannel,
    cast_at: datetime,
    answers: Mapping[int, Choice],
) -> dict[str, Any]:
    """What a ballot's hash covers."""
    return {
        "meeting": meeting_id,
        "sequence": sequence,
        "voter": voter.id,
        "apartment": voter.apartment_id,
        "person": voter.person_id,
        "share": f"{voter.share_numerator}/{voter.share_denominator}",
        "area_m2": f"{Decimal(voter.area_m2):.2f}",
        "channel": BallotChannel(channel).value,
        "cast_at": cast_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "answers": {str(q): Choice(c).value for q, c in sorted(answers.items())},
    }


def _append(
    session: Session,
    meeting: Meeting,
    voter: MeetingVoter,
    answers: dict[int, Choice],
    *,
    channel: BallotChannel,
    actor: Actor,
    proxy_id: int | None,
    scan: documents.Stored | None,
    now: datetime,
) -> Ballot:
    """Appends the ballot to the (locked) meeting's chain."""
    sequence = meeting.ballots + 1
    fields = ballot_fields(meeting.id, sequence, voter, channel, now, answers)
    ballot = Ballot(
        meeting_id=meeting.id,
        voter_id=voter.id,
        sequence=sequence,
        channel=channel,
        cast_by=actor.user_id,
        proxy_id=proxy_id,
        scan_file=scan.name if scan else None,
        scan_type=scan.content_type if scan else None,
        cast_at=now,
        prev_hash=meeting.chain_head,
        hash=chain.ballot_hash(meeting.chain_head, fields),
    )
    session.add(ballot)
    session.flush()
    session.add_all(BallotAnswer(ballot_id=ballot.id, question_id=q, choice=c) for q, c in answers.items())
    meeting.ballots = sequence
    meeting.chain_head = ballot.hash
    session.add(meeting)
    action = "paper_ballot" if channel is BallotChannel.paper else "ballot"
    by = " by proxy" if proxy_id else ""
    _event(
        session,
        meeting,
        actor,
        action,
        f"roll entry {voter.id}{by}; receipt {chain.receipt_of(ballot.hash)}",
        now,
    )
    session.flush()
    return ballot


def cast_ballot(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    voter_id: int,
    answers: Mapping[int, Choice],
    now: datetime,
) -> Ballot:
    """An owner's (or their accepted proxy's) online ballot for one roll entry, answering every
    question."""
    if actor.role is not Role.resident or actor.person_id is None:
        raise Forbidden("owners and their proxies vote online; staff enter paper ballots")
    meeting = _lock(session, meeting)
    _voting_open(meeting, now)
    voter = _roll_entry(session, meeting, voter_id)
    proxy = _accepted_proxy(session, voter.id)
    if proxy is not None and proxy.proxy_person_id == actor.person_id:
        proxy_id = proxy.id
    elif voter.person_id == actor.person_id:
        if proxy is not None:
            raise Conflict(
                "your power of attorney for this share was accepted: your proxy votes for it, not you",
                field="voter_id",
            )
        proxy_id = None
    else:
        raise Invalid(f"roll entry {voter_id} is not yours to vote for", field="voter_id")
    _refuse_second(session, meeting, voter)
    cleaned = _clean_answers(session, meeting, answers, complete=True)
    return _append(
        session,
        meeting,
        voter,
        cleaned,
        channel=BallotChannel.online,
        actor=actor,
        proxy_id=proxy_id,
        scan=None,
        now=now,
    )


def enter_paper_ballot(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    voter_id: int,
    answers: Mapping[int, Choice],
    scan: bytes,
    settings: Any,
    now: datetime,
) -> Ballot:
    """Staff enter a signed paper ballot with its scan, during the voting period; a question
    left blank on paper is left out. A share with an accepted proxy: the paper is the proxy's."""
    _require_staff(session, actor, meeting, now, CLERKS)
    meeting = _lock(session, meeting)
    _voting_open(meeting, now)
    voter = _roll_entry(session, meeting, voter_id)
    _refuse_second(session, meeting, voter)
    cleaned = _clean_answers(session, meeting, answers, complete=False)
    proxy = _accepted_proxy(session, voter.id)
    group: MeetingSettings = settings.meetings
    stored = documents.store(
        group.document_dir, f"m{meeting.id}-paper", scan, max_bytes=group.max_document_bytes, field="scan"
    )
    return _append(
        session,
        meeting,
        voter,
        cleaned,
        channel=BallotChannel.paper,
        actor=actor,
        proxy_id=proxy.id if proxy else None,
        scan=stored,
        now=now,
    )


# Proxies


def submit_proxy(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    voter_id: int,
    proxy_person_id: int,
    document: bytes,
    settings: Any,
    now: datetime,
) -> MeetingProxy:
    """Uploads a power of attorney for one roll entry (staff, or the owner of that entry);
    staff accept or reject it."""
    _refuse_readers(actor)
    meeting = _lock(session, meeting)  # a proxy, the ballots and the decisions on proxies take turns
    if MeetingStatus(meeting.status) is not MeetingStatus.published or now >= meeting.voting_ends:
        raise Conflict("proxies are given between the notice and the end of voting")
    voter = _roll_entry(session, meeting, voter_id)
    is_owner = actor.role is Role.resident and actor.person_id == voter.person_id
    if not is_owner:
        _require_staff(session, actor, meeting, now, CLERKS)
    person = session.get(Person, proxy_person_id) if _is_id(proxy_person_id) else None
    if person is None:
        raise Invalid(f"person {proxy_person_id} does not exist", field="proxy_person_id")
    if proxy_person_id == voter.person_id:
        raise Invalid("the owner cannot be their own proxy", field="proxy_person_id")
    if session.exec(select(Ballot.id).where(Ballot.voter_id == voter.id)).first() is not None:
        raise Conflict("this share has voted already; a proxy could not vote for it", field="voter_id")
    if _accepted_proxy(session, voter.id) is not None:
        raise Conflict("this share already has an accepted proxy", field="voter_id")
    group: MeetingSettings = settings.meetings
    stored = documents.store(
        group.document_dir,
        f"m{meeting.id}-proxy",
        document,
        max_bytes=group.max_document_bytes,
        field="document",
    )
    proxy = MeetingProxy(
        meeting_id=meeting.id,
        voter_id=voter.id,
        proxy_person_id=proxy_person_id,
        file=stored.name,
        content_type=stored.content_type,
        submitted_by=actor.user_id,
        created_at=now,
    )
    session.add(proxy)
    session.flush()
    _event(
        session, meeting, actor, "proxy_submitted", f"roll entry {voter.id} to person {proxy_person_id}", now
    )
    session.flush()
    return proxy


def decide_proxy(
    session: Session, actor: Actor, proxy: MeetingProxy, *, accept: bool, reason: str = "", now: datetime
) -> MeetingProxy:
    """Staff accept a pending power of attorney (the proxy then votes for the share) or reject
    it, saying why."""
    meeting = session.get(Meeting, proxy.meeting_id)
    _require_staff(session, actor, meeting, now, ORGANIZERS)
    meeting = _lock(session, meeting)
    reason = _plain(reason.strip(), "reason") if isinstance(reason, str) else ""
    if len(reason) > REASON_CHARS:
        raise Invalid(f"the reason is longer than {REASON_CHARS} characters", field="reason")
    if ProxyStatus(proxy.status) is not ProxyStatus.pending:
        raise Conflict(f"this proxy was {proxy.status} already")
    if MeetingStatus(meeting.status) is not MeetingStatus.published or now >= meeting.voting_ends:
        raise Conflict("proxies are decided before the voting ends")
    if accept:
        if session.exec(select(Ballot.id).where(Ballot.voter_id == proxy.voter_id)).first() is not None:
            raise Conflict("this share has voted already; its ballot stands and a proxy could not vote")
        if _accepted_proxy(session, proxy.voter_id) is not None:
            raise Conflict("this share already has an accepted proxy")
    elif not reason:
        raise Invalid("say why the power of attorney is rejected", field="reason")
    proxy.status = ProxyStatus.accepted if accept else ProxyStatus.rejected
    proxy.decided_by = actor.user_id
    proxy.decided_at = now
    proxy.reason = reason
    session.add(proxy)
    _event(
        session,
        meeting,
        actor,
        "proxy_accepted" if accept else "proxy_rejected",
        f"proxy {proxy.id} for roll entry {proxy.voter_id}" + (f": {reason}" if reason else ""),
        now,
    )
    session.flush()
    return proxy


# Turnout, the count, the close


@dataclass(frozen=True)
class Turnout:
    cast: Fraction  # m2 of the roll entries that returned a ballot
    total: Fraction  # all votes
    quorum_needed: Fraction  # the rule's share of all votes (m2); a quorum is more (or at least that)
    quorum_reached: bool
    ballots: int
    roll: int

    @property
    def percent(self) -> Fraction:
        return percent(self.cast, self.total)


def _rules(settings: Any | None) -> MeetingRules:
    return MeetingRules.of(settings if settings is not None else SimpleNamespace(meetings=MeetingSettings()))


def _roll_entries(session: Session, meeting: Meeting) -> list[RollEntry]:
    query = select(
        MeetingVoter.id, MeetingVoter.share_numerator, MeetingVoter.share_denominator, MeetingVoter.area_m2
    ).where(MeetingVoter.meeting_id == meeting.id)
    return [RollEntry(*row) for row in session.exec(query)]


def _answers(session: Session, meeting: Meeting) -> dict[int, dict[int, Choice]]:
    answers: dict[int, dict[int, Choice]] = {
        voter_id: {}
        for voter_id in session.exec(select(Ballot.voter_id).where(Ballot.meeting_id == meeting.id))
    }
    query = (
        select(Ballot.voter_id, BallotAnswer.question_id, BallotAnswer.choice)
        .join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id)
        .where(Ballot.meeting_id == meeting.id)
    )
    for voter_id, question_id, choice in session.exec(query):
        answers[voter_id][question_id] = Choice(choice)
    return answers


def _total(meeting: Meeting) -> Fraction:
    return Fraction(meeting.total_area_m2 or 0)


def turnout(session: Session, meeting: Meeting, *, settings: Any | None = None) -> Turnout:
    """The weight voted so far against all votes and the quorum; never how anyone voted.
    Give `settings` (the rule table); without it the default rules apply."""
    rules = _rules(settings)
    cast, ballots, roll = _cast(session, meeting)
    total = _total(meeting)
    return Turnout(
        cast=cast,
        total=total,
        quorum_needed=rules.quorum.fraction * total,
        quorum_reached=rules.quorum_reached(cast=cast, total=total),
        ballots=ballots,
        roll=roll,
    )


# The sums are taken by the database, exactly: a weight is share_numerator / share_denominator
# times the area, so the database sums share_numerator * area in whole hundredths of m2 (integers:
# exact on PostgreSQL and SQLite alike) per share denominator, and the few sums per denominator
# become fractions here. `counting.count` over the rows gives the same Count (the tests hold them
# to it); this one reads a few rows instead of one per ballot and answer.


def _hundredths():
    return MeetingVoter.share_numerator * func.cast(func.round(MeetingVoter.area_m2 * 100), BigInteger)


def _as_weight(hundredths: Any, denominator: int) -> Fraction:
    return Fraction(int(hundredths or 0), 100 * denominator)


def _sums(session: Session, meeting: Meeting) -> list[tuple]:
    """One round trip: the cast weight per denominator (question None), each question's and
    choice's weight per denominator, and the roll's size (denominator None)."""
    cast = (
        select(
            literal(None, Integer).label("question_id"),
            literal(None, String).label("choice"),
            MeetingVoter.share_denominator,
            func.sum(_hundredths()),
            func.count(),
        )
        .select_from(Ballot)
        .join(MeetingVoter, col(MeetingVoter.id) == Ballot.voter_id)
        .where(Ballot.meeting_id == meeting.id)
        .group_by(MeetingVoter.share_denominator)
    )
    answers = (
        select(
            BallotAnswer.question_id,
            BallotAnswer.choice,
            MeetingVoter.share_denominator,
            func.sum(_hundredths()),
            func.count(),
        )
        .select_from(BallotAnswer)
        .join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id)
        .join(MeetingVoter, col(MeetingVoter.id) == Ballot.voter_id)
        .where(Ballot.meeting_id == meeting.id)
        .group_by(BallotAnswer.question_id, BallotAnswer.choice, MeetingVoter.share_denominator)
    )
    roll = select(
        literal(None, Integer),
        literal(None, String),
        literal(None, Integer),
        literal(None, BigInteger),
        func.count(),
    ).where(MeetingVoter.meeting_id == meeting.id)
    return list(session.execute(union_all(cast, answers, roll)))


def _cast(session: Session, meeting: Meeting) -> tuple[Fraction, int, int]:
    """The weight of the roll entries that returned a ballot, how many ballots, the roll's size."""
    cast, ballots, roll = Fraction(0), 0, 0
    for question_id, _, denominator, hundredths, n in _sums(session, meeting):
        if question_id is None and denominator is None:
            roll = n
        elif question_id is None:
            cast += _as_weight(hundredths, denominator)
            ballots += n
    return cast, ballots, roll


def _live_count(session: Session, meeting: Meeting, rules: MeetingRules) -> Count:
    total = _total(meeting)
    cast, ballots, roll = Fraction(0), 0, 0
    sums: dict[tuple[int, Choice], Fraction] = {}
    for question_id, choice, denominator, hundredths, n in _sums(session, meeting):
        if question_id is None and denominator is None:
            roll = n
        elif question_id is None:
            cast += _as_weight(hundredths, denominator)
            ballots += n
        else:
            key = (question_id, Choice(choice))
            sums[key] = sums.get(key, Fraction(0)) + _as_weight(hundredths, denominator)
    quorum = rules.quorum_reached(cast=cast, total=total)
    questions = []
    agenda = select(MeetingQuestion.id, MeetingQuestion.kind).where(MeetingQuestion.meeting_id == meeting.id)
    for question_id, kind in session.exec(agenda.order_by(MeetingQuestion.position)):
        votes = [
            sums.get((question_id, choice), Fraction(0)) for choice in (Choice.yes, Choice.no, Choice.abstain)
        ]
        kind = DecisionKind(kind)
        outcome = rules.outcome(
            kind, votes_for=votes[0], cast=sum(votes, Fraction(0)), total=total, quorum=quorum
        )
        questions.append(QuestionCount(question_id, kind, *votes, outcome))
    return Count(
        total=total, cast=cast, quorum=quorum, questions=tuple(questions), ballots=ballots, roll=roll
    )


def reference_count(session: Session, meeting: Meeting, *, settings: Any) -> Count:
    """`counting.count` over the roll and every ballot's answers, row by row: what the database's
    sums must equal (the tests compare them)."""
    return count(
        total=_total(meeting),
        roll=_roll_entries(session, meeting),
        questions=[(q.id, DecisionKind(q.kind)) for q in questions_of(session, meeting)],
        answers=_answers(session, meeting),
        rules=MeetingRules.of(settings),
    )


def meeting_count(session: Session, meeting: Meeting, *, settings: Any) -> Count:
    """A closed meeting's stored results; before the close, the count as it stands."""
    if MeetingStatus(meeting.status) is not MeetingStatus.closed:
        return _live_count(session, meeting, MeetingRules.of(settings))
    roll = session.exec(select(func.count()).where(MeetingVoter.meeting_id == meeting.id)).one()
    return Count(
        total=_total(meeting),
        cast=from_text(meeting.votes_cast or "0"),
        quorum=bool(meeting.quorum_reached),
        questions=tuple(
            QuestionCount(
                q.id,
                DecisionKind(q.kind),
                from_text(q.votes_for or "0"),
                from_text(q.votes_against or "0"),
                from_text(q.votes_abstain or "0"),
                Outcome(q.outcome),
            )
            for q in questions_of(session, meeting)
        ),
        ballots=meeting.ballots,
        roll=roll,
    )


def close_meeting(
    session: Session, meeting: Meeting, *, actor: Actor | None, settings: Any, now: datetime
) -> Count:
    """Counts a meeting whose voting has ended (staff, an admin, or the job with `actor` None),
    stores the results, records each adopted decision, hands the building to a newly chosen
    company from the decided date (a refusal of the register is recorded as an event, the
    close goes on), and notifies every owner on the roll."""
    _require_staff(session, actor, meeting, now, ORGANIZERS)
    meeting = _lock(session, meeting)
    status = MeetingStatus(meeting.status)
    if status is MeetingStatus.closed:
        raise Conflict(f"the meeting was closed at {meeting.closed_at:%Y-%m-%d %H:%M} UTC")
    if status is not MeetingStatus.published:
        raise Conflict(f"the meeting is {status.value}; only a published meeting is counted")
    if now < meeting.voting_ends:
        raise Conflict(f"voting runs until {meeting.voting_ends:%Y-%m-%d %H:%M} UTC; close it after that")
    rules = MeetingRules.of(settings)
    result = _live_count(session, meeting, rules)
    questions = {q.id: q for q in questions_of(session, meeting)}
    day = _day(now, settings.timezone)
    building = session.get(Building, meeting.building_id)
    adopted = 0
    for counted in result.questions:
        question = questions[counted.question_id]
        question.votes_for = as_text(counted.votes_for)
        question.votes_against = as_text(counted.votes_against)
        question.votes_abstain = as_text(counted.votes_abstain)
        question.outcome = counted.outcome
        session.add(question)
        if counted.outcome is not Outcome.adopted:
            continue
        adopted += 1
        effective = question.effective_from or day
        session.add(
            BuildingDecision(
                building_id=meeting.building_id,
                meeting_id=meeting.id,
                question_id=question.id,
                kind=question.kind,
                effective_from=effective,
                company_id=question.company_id,
                fee_minor=question.fee_minor,
                currency=question.currency,
                decided_at=now,
            )
        )
        if question.kind == DecisionKind.management_company and question.company_id is not None:
            try:
                with session.begin_nested():
                    registry.change_management(
                        session, building, company_id=question.company_id, valid_from=effective
                    )
                _event(
                    session,
                    meeting,
                    None,
                    "company_changed",
                    f"question {question.position}: company {question.company_id} manages from {effective}",
                    now,
                )
            except DomainError as exc:
                _event(
                    session,
                    meeting,
                    None,
                    "company_change_refused",
                    f"question {question.position}: the register refused company {question.company_id}"
                    f" from {effective}: {exc.detail}",
                    now,
                )
    meeting.status = MeetingStatus.closed
    meeting.closed_at = now
    meeting.closed_by = actor.user_id if actor else None
    meeting.votes_cast = as_text(result.cast)
    meeting.quorum_reached = result.quorum
    meeting.updated_at = now
    session.add(meeting)
    session.flush()
    turnout_text = f"{shown(result.turnout_percent)}%"
    notified = notices.notify_owners(
        session,
        meeting,
        kind="meeting_result",
        params_for=lambda language, text: {
            "title": text.title,
            "turnout": turnout_text,
            "adopted": adopted,
            "questions": len(result.questions),
        },
        dedupe=f"meeting:{meeting.id}:result",
        now=now,
    )
    _event(
        session,
        meeting,
        actor,
        "closed",
        f"{result.ballots} ballots, {shown(result.cast)} of {shown(result.total)} m2 ({turnout_text});"
        f" quorum {'reached' if result.quorum else 'not reached'}; {adopted} of {len(result.questions)}"
        f" questions adopted; chain head {meeting.chain_head}; {notified} owners notified",
        now,
    )
    session.flush()
    return result


# The register of ballots


@dataclass(frozen=True)
class RegisterRow:
    sequence: int
    ballot_id: int
    voter_id: int
    apartment_number: str
    owner_name: str
    share: Fraction
    weight: Fraction
    channel: BallotChannel
    proxy_name: str | None
    choices: dict[int, Choice]
    hash: str
    prev_hash: str
    cast_at: datetime

    @property
    def receipt(self) -> str:
        return chain.receipt_of(self.hash)


def _register(session: Session, meeting: Meeting, *, receipt: str | None = None) -> list[RegisterRow]:
    proxy_person = Person.__table__.alias("proxy_person")
    query = (
        select(Ballot, MeetingVoter, Apartment.number, Person.full_name, proxy_person.c.full_name)
        .join(MeetingVoter, col(MeetingVoter.id) == Ballot.voter_id)
        .join(Apartment, col(Apartment.id) == MeetingVoter.apartment_id)
        .join(Person, col(Person.id) == MeetingVoter.person_id)
        .outerjoin(MeetingProxy, col(MeetingProxy.id) == Ballot.proxy_id)
        .outerjoin(proxy_person, proxy_person.c.id == MeetingProxy.proxy_person_id)
        .where(Ballot.meeting_id == meeting.id)
        .order_by(Ballot.sequence)
    )
    if receipt is not None:
        query = query.where(col(Ballot.hash).startswith(receipt, autoescape=True))
    rows = session.exec(query).all()
    choices: dict[int, dict[int, Choice]] = {ballot.id: {} for ballot, *_ in rows}
    if choices:
        answers = select(BallotAnswer.ballot_id, BallotAnswer.question_id, BallotAnswer.choice)
        if receipt is not None:
            answers = answers.where(col(BallotAnswer.ballot_id).in_(list(choices)))
        else:
            answers = answers.join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id).where(
                Ballot.meeting_id == meeting.id
            )
        for ballot_id, question_id, choice in session.exec(answers):
            choices[ballot_id][question_id] = Choice(choice)
    return [
        RegisterRow(
            sequence=ballot.sequence,
            ballot_id=ballot.id,
            voter_id=voter.id,
            apartment_number=number,
            owner_name=owner,
            share=Fraction(voter.share_numerator, voter.share_denominator),
            weight=weight(voter.share_numerator, voter.share_denominator, voter.area_m2),
            channel=BallotChannel(ballot.channel),
            proxy_name=proxy_name,
            choices=dict(sorted(choices[ballot.id].items())),
            hash=ballot.hash,
            prev_hash=ballot.prev_hash,
            cast_at=ballot.cast_at,
        )
        for ballot, voter, number, owner, proxy_name in rows
    ]


def ballot_register(session: Session, meeting: Meeting) -> list[RegisterRow]:
    """Every ballot in chain order: who (apartment, owner, share, weight), how it came (channel,
    proxy), the choices by question id, its hash (the receipt) and when."""
    return _register(session, meeting)


def find_receipt(session: Session, meeting: Meeting, receipt: str) -> RegisterRow | None:
    """The ballot a receipt (the first 16 or more hex digits of its hash) names, if any."""
    if not isinstance(receipt, str):
        return None
    receipt = receipt.strip().lower()
    if not chain.RECEIPT_DIGITS <= len(receipt) <= 64 or any(c not in "0123456789abcdef" for c in receipt):
        return None
    found = _register(session, meeting, receipt=receipt)
    return found[0] if found else None


def chain_links(session: Session, meeting: Meeting) -> list[chain.ChainLink]:
    """Each ballot's link, rebuilt from the tables, in chain order."""
    voters = {v.id: v for v in roll_of(session, meeting)}
    answers: dict[int, dict[int, Choice]] = {}
    query = (
        select(BallotAnswer.ballot_id, BallotAnswer.question_id, BallotAnswer.choice)
        .join(Ballot, col(Ballot.id) == BallotAnswer.ballot_id)
        .where(Ballot.meeting_id == meeting.id)
    )
    for ballot_id, question_id, choice in session.exec(query):
        answers.setdefault(ballot_id, {})[question_id] = Choice(choice)
    ballots = session.exec(select(Ballot).where(Ballot.meeting_id == meeting.id).order_by(Ballot.sequence))
    return [
        chain.ChainLink(
            b.prev_hash,
            ballot_fields(
                meeting.id, b.sequence, voters[b.voter_id], b.channel, b.cast_at, answers.get(b.id, {})
            ),
            b.hash,
        )
        for b in ballots
    ]


def verify_meeting_chain(session: Session, meeting: Meeting) -> bool:
    """Every ballot's hash matches its fields and the previous hash, up to the meeting's head."""
    return chain.verify_chain(chain_links(session, meeting), head=meeting.chain_head)


def due_for_close(session: Session, *, now: datetime) -> list[int]:
    query = select(Meeting.id).where(Meeting.status == MeetingStatus.published, Meeting.voting_ends <= now)
    return list(session.exec(query.order_by(Meeting.voting_ends, Meeting.id)))
