"""Who may see what of the reconciliation, written once.

A difference is seen by whoever sees its apartment today (a company's staff: the apartments of
the buildings it manages); a difference with no apartment (a statement line naming an account
nobody has) only by admins. Payments per gateway and day are counted over the apartments the
actor sees; None means the whole city.
"""

from datetime import date

from sqlalchemy import Select
from sqlmodel import col, select

from billing.models import ReconciliationDifference
from housing.accounts.models import Role
from housing.actors import Actor
from housing.registry.models import Apartment
from housing.registry.queries import visible_apartments


def visible_differences(actor: Actor, today: date) -> Select:
    query = select(ReconciliationDifference)
    if actor.role is Role.admin:
        return query
    if actor.sees_whole_city:
        return query.where(col(ReconciliationDifference.apartment_id).is_not(None))
    apartments = visible_apartments(actor, today).with_only_columns(Apartment.id)
    return query.where(col(ReconciliationDifference.apartment_id).in_(apartments))


def payment_scope(actor: Actor, today: date) -> Select | None:
    """The apartments whose payments the actor counts (a select of Apartment); None: the whole city."""
    return None if actor.sees_whole_city else visible_apartments(actor, today)
