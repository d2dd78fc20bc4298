"""What each actor may see of the tariffs, written once, and the tariffs in force on a day."""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select, or_
from sqlmodel import select

from billing.models import Tariff
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.registry import queries as registry_queries
from housing.registry.models import ManagementCompany
from housing.routing import one_visible
from housing.validation import Id


def visible_tariffs(actor: Actor, today: date) -> Select:
    """City-wide tariffs for everyone; a company's own tariffs for those who see that company."""
    query = select(Tariff)
    if actor.sees_whole_city:
        return query
    companies = registry_queries.visible_companies(actor, today).with_only_columns(ManagementCompany.id)
    return query.where(or_(Tariff.company_id.is_(None), Tariff.company_id.in_(companies)))


def _visible_tariff(tariff_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Tariff:
    return one_visible(session, visible_tariffs(actor, today), Tariff, tariff_id, "tariff")


VisibleTariff = Annotated[Tariff, Depends(_visible_tariff)]
"""The tariff of the path's `tariff_id` if the actor sees it, else 404."""
