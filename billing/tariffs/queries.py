"""What each actor may see of the tariffs, written once."""

from datetime import date

from sqlalchemy import Select, or_
from sqlmodel import select

from billing.models import Invoice, PaymentAttempt, Tariff
from housing.actors import Actor
from housing.registry import queries as registry_queries
from housing.registry.models import Apartment, ManagementCompany


def visible_tariffs(actor: Actor, today: date) -> Select:
    """City-wide tariffs for everyone; a company's own tariffs for those who see that company."""
    query = select(Tariff)
    if actor.sees_whole_city:
        return query
    companies = registry_queries.visible_companies(actor, today).with_only_columns(ManagementCompany.id)
    return query.where(or_(Tariff.company_id.is_(None), Tariff.company_id.in_(companies)))


def visible_invoices(actor: Actor, today: date) -> Select:
    """The invoices of the apartments the actor sees today."""
    query = select(Invoice)
    if actor.sees_whole_city:
        return query
    apartments = registry_queries.visible_apartments(actor, today).with_only_columns(Apartment.id)
    return query.where(Invoice.apartment_id.in_(apartments))


def visible_payments(actor: Actor, today: date) -> Select:
    """The payments of the apartments the actor sees today."""
    query = select(PaymentAttempt)
    if actor.sees_whole_city:
        return query
    apartments = registry_queries.visible_apartments(actor, today).with_only_columns(Apartment.id)
    return query.where(PaymentAttempt.apartment_id.in_(apartments))
