"""Who may see an invoice, and the account (apartment) it is billed to: the filter, written once,
and the route dependencies that load a visible one or answer 404.

An invoice is visible to whoever sees its apartment today (`housing.registry.queries`):
residents their homes, company staff the buildings their company manages, admins and
officials the whole city. Anything else reads as missing (404), so ids do not leak.
"""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select
from sqlmodel import Session, select

from billing.ledger.queries import of_visible_apartments
from billing.models import Invoice, InvoiceLine
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import NotFound
from housing.registry import queries as registry_queries
from housing.registry.models import Apartment, Building
from housing.routing import one_visible
from housing.validation import Id


def visible_invoices(actor: Actor, today: date) -> Select:
    """The invoices of the apartments the actor sees today."""
    return of_visible_apartments(Invoice, actor, today)


def account_address(session: Session, apartment_id: int) -> str:
    """The address of the apartment's building, for a page's heading."""
    return session.exec(select(Building.address).join(Apartment).where(Apartment.id == apartment_id)).one()


def _visible_invoice(invoice_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Invoice:
    return one_visible(session, visible_invoices(actor, today), Invoice, invoice_id, "invoice")


def _visible_invoice_line(
    invoice_id: Id, line_id: Id, session: SessionDep, actor: CurrentActor, today: Today
) -> InvoiceLine:
    invoice = _visible_invoice(invoice_id, session, actor, today)
    line = session.get(InvoiceLine, line_id)
    if line is None or line.invoice_id != invoice.id:
        raise NotFound(f"line {line_id} of invoice {invoice.id} not found")
    return line


def _visible_account(apartment_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Apartment:
    return one_visible(
        session, registry_queries.visible_apartments(actor, today), Apartment, apartment_id, "apartment"
    )


VisibleInvoice = Annotated[Invoice, Depends(_visible_invoice)]
"""The invoice of the path's `invoice_id` if the actor sees it, else 404."""

VisibleInvoiceLine = Annotated[InvoiceLine, Depends(_visible_invoice_line)]
"""The line `line_id` of the path's invoice `invoice_id` if the actor sees that invoice, else 404."""

VisibleAccount = Annotated[Apartment, Depends(_visible_account)]
"""The apartment (personal account) of the path's `apartment_id` if the actor sees it, else 404."""
