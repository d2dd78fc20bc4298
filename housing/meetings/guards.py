"""The checks every owners' meeting verb shares: the city's day, clean input, who runs the
building and the meeting, the phase that allows an edit, the meeting row's lock, the event log.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from housing import clock
from housing.accounts.models import Role
from housing.actors import Actor
from housing.announcements.languages import WRITTEN_IN
from housing.errors import Conflict, Forbidden, Invalid
from housing.meetings.models import (
    InitiatorKind,
    Meeting,
    MeetingEvent,
)
from housing.meetings.phases import editable
from housing.meetings.queries import ORGANIZERS
from housing.registry.models import (
    Apartment,
    BuildingManagement,
    Ownership,
)
from housing.registry.periods import in_force
from housing.settings import CITY_TIMEZONE
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


def city_day(now: datetime, timezone: str = CITY_TIMEZONE) -> date:
    return clock.local_day(now, timezone)


def plain_text(text: str, field: str) -> str:
    """Text that may be stored: no NUL nor other control characters (tab and line breaks pass)."""
    try:
        return check_text(text)
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from None


def is_id(value: Any) -> bool:
    """A row id as the database holds it (not a bool, not out of range)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _aware(moment: Any, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise Invalid("give a date and time with its time zone", field=field)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise Invalid("give a date and time in this century", field=field) from None


def record_event(
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


def refuse_readers(actor: Actor) -> None:
    if actor.role is Role.official:
        raise Forbidden("officials read meetings; they do not run them")


def staff_of_building(
    session: Session, actor: Actor, building_id: int, day: date, roles: frozenset[Role]
) -> bool:
    if actor.role not in roles:
        return False
    if actor.role is Role.admin:
        return True
    return actor.company_id is not None and current_company_id(session, building_id, day) == actor.company_id


def require_organizer(session: Session, actor: Actor, meeting: Meeting, now: datetime) -> None:
    """Edits, publishes or cancels: an owners' initiative's initiator or an admin; any other
    meeting's building's managers or an admin."""
    refuse_readers(actor)
    if actor.role is Role.admin:
        return
    if InitiatorKind(meeting.initiator) is InitiatorKind.owners:
        if actor.user_id != meeting.created_by:
            raise Forbidden("only the owner who started this initiative (or an admin) changes it")
        return
    if not staff_of_building(session, actor, meeting.building_id, city_day(now), ORGANIZERS):
        raise Forbidden(
            "only the managers of the company managing this building (or an admin) run its meetings"
        )


def require_staff(
    session: Session, actor: Actor | None, meeting: Meeting, now: datetime, roles: frozenset[Role]
) -> None:
    """Runs the vote: the managing company's staff in `roles`, or an admin."""
    if actor is None:
        return
    refuse_readers(actor)
    if not staff_of_building(session, actor, meeting.building_id, city_day(now), roles):
        names = ", ".join(sorted(r.value for r in roles - {Role.admin}))
        raise Forbidden(f"only the managing company's staff ({names}) or an admin do this")


def require_editable(meeting: Meeting) -> None:
    if not editable(meeting):
        raise Conflict(f"the meeting is {meeting.status}; its agenda can no longer change")


def lock_meeting(session: Session, meeting: Meeting) -> Meeting:
    """The meeting row again, locked until the transaction ends (PostgreSQL), and fresh."""
    query = select(Meeting).where(Meeting.id == meeting.id).with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()


def clean_texts(texts: Any, *, title_chars: int, field: str = "texts") -> dict[str, tuple[str, str]]:
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
        title, body = plain_text(value[0].strip(), field), plain_text(value[1].strip(), field)
        if not title:
            raise Invalid(f"the {language} title is empty", field=field)
        if len(title) > title_chars:
            raise Invalid(f"the {language} title is longer than {title_chars} characters", field=field)
        if len(body) > BODY_CHARS:
            raise Invalid(f"the {language} text is longer than {BODY_CHARS} characters", field=field)
        cleaned[language] = (title, body)
    return cleaned


def check_period(starts: Any, ends: Any, now: datetime) -> tuple[datetime, datetime]:
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


def owned_in_building(session: Session, person_id: int, building_id: int, day: date) -> list[Ownership]:
    query = (
        select(Ownership)
        .join(Apartment, col(Apartment.id) == Ownership.apartment_id)
        .where(
            Apartment.building_id == building_id, Ownership.person_id == person_id, in_force(Ownership, day)
        )
        .order_by(Ownership.id)
    )
    return list(session.exec(query))
