"""What each actor may see of service requests, written once and used by every route.

Residents: requests on the apartments they own or live in today, and any request filed by
them or for them (a building-wide one too). Company staff: their company's requests (the
company that managed the building when the request was filed). Officials and admins: all.
"""

from datetime import date

from sqlalchemy import Select, or_
from sqlmodel import select

from housing.actors import Actor
from housing.registry.queries import home_apartment_ids
from housing.requests.models import RequestCategory, ServiceRequest


def visible_requests(actor: Actor, today: date) -> Select:
    query = select(ServiceRequest)
    if actor.sees_whole_city:
        return query
    if actor.is_company_staff:
        return query.where(ServiceRequest.company_id == actor.company_id)
    mine = [ServiceRequest.filed_by_id == actor.user_id]
    if actor.person_id is not None:
        homes = home_apartment_ids(actor.person_id, today).subquery()
        mine += [
            ServiceRequest.requester_person_id == actor.person_id,
            ServiceRequest.apartment_id.in_(select(homes.c.apartment_id)),
        ]
    return query.where(or_(*mine))


def visible_categories(actor: Actor) -> Select:
    """Everyone picks from the active categories; admins also see the retired ones."""
    query = select(RequestCategory)
    if actor.role == "admin":
        return query
    return query.where(RequestCategory.active.is_(True))
