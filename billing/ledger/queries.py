"""Who may see an account's rows (invoices, payments, ledger entries): the rows of the
apartments the actor sees today (`housing.registry.queries`), the filter written once for
every billing table keyed by `apartment_id`."""

from datetime import date
from typing import Any

from sqlalchemy import Select
from sqlmodel import select

from housing.actors import Actor
from housing.registry import queries as registry_queries
from housing.registry.models import Apartment


def of_visible_apartments(model: Any, actor: Actor, today: date) -> Select:
    """The rows of `model` (a table with an `apartment_id`) of the apartments the actor sees today."""
    query = select(model)
    if actor.sees_whole_city:
        return query
    apartments = registry_queries.visible_apartments(actor, today).with_only_columns(Apartment.id)
    return query.where(model.apartment_id.in_(apartments))
