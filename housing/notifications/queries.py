"""Whose notifications an actor may see, written once: their own inbox, and for staff the deliveries.

Everyone reads their own notifications. Deliveries (what was sent where, and how it went)
are for the staff: a company's staff see the notifications of the residents of the
buildings the company manages today and of their own company's staff; admins see all;
anyone else sees none (404, so ids do not leak).
"""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select, false, or_
from sqlmodel import select

from housing.actors import STAFF, Actor
from housing.auth import CurrentActor, StaffActor
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import NotFound
from housing.notifications.models import Notification
from housing.notifications.recipients import company_staff, users_of_company
from housing.validation import Id


def own_notifications(actor: Actor) -> Select:
    return select(Notification).where(Notification.user_id == actor.user_id)


def delivery_notifications(actor: Actor, today: date) -> Select:
    """The notifications whose deliveries the actor may see."""
    query = select(Notification)
    if actor.role == "admin":
        return query
    if actor.role not in STAFF or actor.company_id is None:
        return query.where(false())
    return query.where(
        or_(
            Notification.user_id.in_(users_of_company(actor.company_id, today)),
            Notification.user_id.in_(company_staff(actor.company_id)),
        )
    )


def _own(notification_id: Id, session: SessionDep, actor: CurrentActor) -> Notification:
    found = session.exec(own_notifications(actor).where(Notification.id == notification_id)).first()
    if found is None:
        raise NotFound(f"notification {notification_id} not found")
    return found


def _watched(notification_id: Id, session: SessionDep, actor: StaffActor, today: Today) -> Notification:
    """A notification whose deliveries the staff member may see; 404 outside their scope (403 for
    a role that is not staff, as on the other console routes)."""
    query = delivery_notifications(actor, today).where(Notification.id == notification_id)
    found = session.exec(query).first()
    if found is None:
        raise NotFound(f"notification {notification_id} not found")
    return found


OwnNotification = Annotated[Notification, Depends(_own)]
WatchedNotification = Annotated[Notification, Depends(_watched)]
