"""Who sees which meeting and who runs it, written once for every route.

Owners and registered residents of a building see its published, closed and cancelled-after-
notice meetings, and owners' initiatives (to sign them); a person on a meeting's roll (who may
have sold since the record date) or holding an accepted proxy for it sees it too. The
staff of the company managing the building today see all its meetings, drafts included;
other companies' staff see none. Admins and officials see every meeting (officials only read:
the verbs refuse them). `VisibleMeeting` loads one within the actor's scope
(404 outside it, so ids do not leak).

Who reads the register of ballots (who voted how), the receipts in it and the protocol that
prints it: the meeting's owners (people on its roll and their accepted proxies), the staff who
see the meeting, admins and officials (`reads_register`). Residents who are not owners see the
agenda, the turnout and the results.

Who runs a meeting: `ORGANIZERS` (admins, the managing company's managers) draft, publish,
cancel and close it and decide proxies; `CLERKS` (organizers and the company's dispatchers)
also enter paper ballots and upload proxies.
"""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select, and_, false, or_
from sqlmodel import Session, col, select

from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import Forbidden, NotFound
from housing.meetings.models import Meeting, MeetingProxy, MeetingStatus, MeetingVoter, ProxyStatus
from housing.registry.models import Apartment
from housing.registry.queries import home_apartment_ids, managed_building_ids
from housing.validation import Id

ORGANIZERS = frozenset({Role.admin, Role.manager})
CLERKS = ORGANIZERS | {Role.dispatcher}

# What residents see of their building's meetings.
SHOWN_TO_RESIDENTS = (MeetingStatus.initiative, MeetingStatus.published, MeetingStatus.closed)


def home_building_ids(person_id: int, today: date) -> Select:
    """The buildings a person owns or lives in today."""
    homes = home_apartment_ids(person_id, today).subquery()
    return select(Apartment.building_id).where(col(Apartment.id).in_(select(homes.c.apartment_id)))


def visible_meetings(actor: Actor, today: date) -> Select:
    query = select(Meeting)
    if actor.sees_whole_city:
        return query
    if actor.is_company_staff:
        if actor.company_id is None:
            return query.where(false())
        return query.where(col(Meeting.building_id).in_(managed_building_ids(actor.company_id, today)))
    if actor.person_id is None:
        return query.where(false())
    shown = or_(
        col(Meeting.status).in_(SHOWN_TO_RESIDENTS),
        and_(Meeting.status == MeetingStatus.cancelled, col(Meeting.published_at).is_not(None)),
    )
    on_roll = select(MeetingVoter.meeting_id).where(MeetingVoter.person_id == actor.person_id)
    proxied = select(MeetingProxy.meeting_id).where(
        MeetingProxy.proxy_person_id == actor.person_id, MeetingProxy.status == ProxyStatus.accepted
    )
    return query.where(
        shown,
        or_(
            col(Meeting.building_id).in_(home_building_ids(actor.person_id, today)),
            col(Meeting.id).in_(on_roll),
            col(Meeting.id).in_(proxied),
        ),
    )


def _visible_meeting(meeting_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Meeting:
    found = session.exec(visible_meetings(actor, today).where(Meeting.id == meeting_id)).first()
    if found is None:
        raise NotFound(f"meeting {meeting_id} not found")
    return found


VisibleMeeting = Annotated[Meeting, Depends(_visible_meeting)]


def reads_register(session: Session, actor: Actor, meeting: Meeting) -> bool:
    """Whether `actor` (who sees `meeting`) may read its register of ballots; see the top."""
    if actor.sees_whole_city or actor.is_company_staff:
        return True
    if actor.person_id is None:
        return False
    on_roll = select(MeetingVoter.id).where(
        MeetingVoter.meeting_id == meeting.id, MeetingVoter.person_id == actor.person_id
    )
    proxied = select(MeetingProxy.id).where(
        MeetingProxy.meeting_id == meeting.id,
        MeetingProxy.proxy_person_id == actor.person_id,
        MeetingProxy.status == ProxyStatus.accepted,
    )
    return session.exec(on_roll.union_all(proxied).limit(1)).first() is not None


def require_register_reader(session: Session, actor: Actor, meeting: Meeting) -> None:
    if not reads_register(session, actor, meeting):
        raise Forbidden(
            "the register of ballots, its receipts and the protocol are for the building's owners on"
            " the meeting's roll (and their proxies); the results are on the meeting's page"
        )
