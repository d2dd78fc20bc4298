"""Giving notice: owners' signatures under an initiative, publishing (the record date, the roll,
all votes, the owners told) and cancelling before the vote.
"""

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlmodel import Session, col, select

from housing.accounts.models import Role
from housing.actors import Actor
from housing.errors import Conflict, Forbidden, Invalid
from housing.meetings import notices
from housing.meetings.guards import (
    REASON_CHARS,
    city_day,
    current_company_id,
    lock_meeting,
    owned_in_building,
    plain_text,
    record_event,
    require_editable,
    require_organizer,
)
from housing.meetings.models import (
    InitiatorKind,
    Meeting,
    MeetingSignature,
    MeetingStatus,
    MeetingVoter,
)
from housing.meetings.phases import Phase, phase
from housing.meetings.reading import building_total, question_texts_of, questions_of, texts_of
from housing.meetings.rules import (
    DecisionKind,
    MeetingRules,
    percent,
    shown,
    weight,
)
from housing.registry.models import (
    Apartment,
    Ownership,
)
from housing.registry.periods import in_force

# The owners' initiative


def sign_initiative(
    session: Session, actor: Actor, meeting: Meeting, *, now: datetime
) -> list[MeetingSignature]:
    """The actor signs for every share they own in the building today; returns the new signatures."""
    meeting = lock_meeting(session, meeting)  # signatures and the publishing take turns
    if MeetingStatus(meeting.status) is not MeetingStatus.initiative:
        raise Conflict("only an owners' initiative gathers signatures")
    if actor.role is not Role.resident or actor.person_id is None:
        raise Forbidden("owners of the building sign an initiative")
    day = city_day(now)
    owned = owned_in_building(session, actor.person_id, meeting.building_id, day)
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
    record_event(session, meeting, actor, "signed", f"{len(signatures)} share(s)", now)
    session.flush()
    return signatures


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


def publish_meeting(
    session: Session, actor: Actor, meeting: Meeting, *, settings: Any, now: datetime
) -> Meeting:
    """Gives notice: checks the agenda and the periods (and an initiative's signatures), fixes
    the record date (the city's day of `now`), the roll (ownerships in force that day) and all
    votes (the area of all the building's premises), and notifies every owner on the roll."""
    require_organizer(session, actor, meeting, now)
    meeting = lock_meeting(session, meeting)
    require_editable(meeting)
    rules = MeetingRules.of(settings)
    timezone = settings.timezone
    day = city_day(now, timezone)
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
    last_day = city_day(meeting.voting_ends)
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
    record_event(
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
    require_organizer(session, actor, meeting, now)
    meeting = lock_meeting(session, meeting)
    reason = plain_text(reason.strip(), "reason") if isinstance(reason, str) else ""
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
    record_event(session, meeting, actor, "cancelled", reason, now)
    session.flush()
    return meeting
