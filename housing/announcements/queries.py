"""Who sees which announcement and who may post where, written once for every route.

Residents: city-wide ones, their districts' ones, and those sent to a building they live in
(to the whole building or to their entrance). Company staff: their company's, and any other
(an admin's, the city's, a district's) that reaches a building the company manages. Officials and admins:
all. Posting: company managers and dispatchers to the buildings their company manages today,
officials to a district or the city, admins anywhere (the role sets are in `housing.actors`).
`VisibleAnnouncement` loads one within
the actor's scope (404 outside it, so ids do not leak).
"""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select, and_, case, or_
from sqlmodel import col, select

from housing.actors import BUILDING_ANNOUNCERS, Actor
from housing.announcements.models import Announcement, AnnouncementTarget, Reach
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import NotFound
from housing.registry.models import Apartment, Building
from housing.registry.queries import home_apartment_ids, managed_building_ids
from housing.validation import Id


def _wide(district_ids: Select) -> list:
    """City-wide announcements, and district-wide ones of these districts."""
    return [
        Announcement.reach == Reach.city,
        and_(Announcement.reach == Reach.district, col(Announcement.district_id).in_(district_ids)),
    ]


def visible_announcements(actor: Actor, today: date) -> Select:
    query = select(Announcement)
    if actor.sees_whole_city:
        return query
    if actor.is_company_staff:
        buildings = managed_building_ids(actor.company_id, today)
        districts = select(Building.district_id).where(col(Building.id).in_(buildings))
        reaching = select(AnnouncementTarget.announcement_id).where(
            col(AnnouncementTarget.building_id).in_(buildings)
        )
        return query.where(
            or_(
                Announcement.company_id == actor.company_id,
                col(Announcement.id).in_(reaching),
                *_wide(districts),
            )
        )
    if actor.person_id is None:
        return query.where(Announcement.reach == Reach.city)
    homes = home_apartment_ids(actor.person_id, today).subquery()
    my_apartments = select(Apartment.building_id, Apartment.entrance).where(
        col(Apartment.id).in_(select(homes.c.apartment_id))
    )
    mine = my_apartments.subquery()
    targeted = (
        select(AnnouncementTarget.announcement_id)
        .join(mine, mine.c.building_id == AnnouncementTarget.building_id)
        .where(
            or_(col(AnnouncementTarget.entrance).is_(None), AnnouncementTarget.entrance == mine.c.entrance)
        )
    )
    districts = select(Building.district_id).where(col(Building.id).in_(select(mine.c.building_id)))
    return query.where(or_(col(Announcement.id).in_(targeted), *_wide(districts)))


def pinned_first(today: date) -> list:
    """The order residents read announcements in: pinned (until today or later), then newest."""
    pinned = case((col(Announcement.pinned_until) >= today, 0), else_=1)
    return [pinned, col(Announcement.created_at).desc(), col(Announcement.id).desc()]


def postable_buildings(actor: Actor, today: date) -> Select:
    """The buildings this actor may post to (none for officials: they post to districts)."""
    query = select(Building.id)
    if actor.role not in BUILDING_ANNOUNCERS:
        return query.where(Building.id.is_(None))
    if actor.is_company_staff:
        return query.where(col(Building.id).in_(managed_building_ids(actor.company_id, today)))
    return query


# One announcement, loaded within the actor's scope: outside it reads as missing.


def _visible_announcement(
    announcement_id: Id, session: SessionDep, actor: CurrentActor, today: Today
) -> Announcement:
    query = visible_announcements(actor, today).where(Announcement.id == announcement_id)
    found = session.exec(query).first()
    if found is None:
        raise NotFound(f"announcement {announcement_id} not found")
    return found


VisibleAnnouncement = Annotated[Announcement, Depends(_visible_announcement)]
