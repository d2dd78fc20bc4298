"""What a linked resident asks the bot, read through the same scoping queries as their pages."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from billing.ledger.service import balances
from billing.models import Invoice, InvoiceStatus
from housing.actors import Actor
from housing.registry.models import Apartment, Building
from housing.registry.queries import visible_apartments
from housing.requests.models import ServiceRequest
from housing.requests.queries import RequestRow, load_rows, visible_requests
from sensors.meters.queries import visible_meters
from sensors.models import Meter

SHOWN = (InvoiceStatus.issued, InvoiceStatus.partially_paid, InvoiceStatus.paid)
RECENT_REQUESTS = 5


@dataclass(frozen=True)
class Home:
    apartment: Apartment
    address: str
    owed_minor: int
    invoice: Invoice | None


@dataclass(frozen=True)
class Place:
    """Where a request may be filed: a home, or a home's building for a common-area problem."""

    key: str  # "a<apartment id>" or "b<building id>", short for a button's callback data
    building_id: int
    apartment_id: int | None
    label: str


def homes(session: Session, actor: Actor, today: date) -> list[Home]:
    """The actor's apartments with their balance and latest issued invoice, in three queries."""
    rows = session.execute(
        visible_apartments(actor, today)
        .add_columns(Building.address)
        .join(Building, Building.id == Apartment.building_id)
        .order_by(Building.address, Apartment.number, Apartment.id)
        .limit(10)
    ).all()
    ids = [apartment.id for apartment, _ in rows]
    owed = balances(session, ids)
    shown = col(Invoice.status).in_([s.value for s in SHOWN])
    newest = (
        select(Invoice.apartment_id, func.max(Invoice.period).label("period"))
        .where(col(Invoice.apartment_id).in_(ids), shown)  # ids: the apartments the actor sees
        .group_by(Invoice.apartment_id)
        .subquery()
    )
    latest = {
        invoice.apartment_id: invoice
        for invoice in session.exec(
            select(Invoice)
            .join(
                newest, (Invoice.apartment_id == newest.c.apartment_id) & (Invoice.period == newest.c.period)
            )
            .where(shown)
        )
    }
    return [
        Home(apartment, address, owed[apartment.id], latest.get(apartment.id)) for apartment, address in rows
    ]


def readable_meters(session: Session, actor: Actor, today: date) -> list[Meter]:
    """The meters of the actor's homes that they read by hand."""
    return list(
        session.exec(
            visible_meters(actor, today)
            .where(
                col(Meter.apartment_id).is_not(None),
                col(Meter.removed_on).is_(None),
                col(Meter.smart).is_(False),
            )
            .order_by(Meter.apartment_id, Meter.kind, Meter.serial)
        )
    )


def readable_meter(session: Session, actor: Actor, today: date, meter_id: int) -> Meter | None:
    return next((m for m in readable_meters(session, actor, today) if m.id == meter_id), None)


def places(session: Session, actor: Actor, today: date) -> list[Place]:
    rows = session.execute(
        visible_apartments(actor, today)
        .add_columns(Building.address)
        .join(Building, Building.id == Apartment.building_id)
        .order_by(Building.address, Apartment.number)
        .limit(10)
    ).all()
    found = [Place(f"a{a.id}", a.building_id, a.id, f"{address}, {a.number}") for a, address in rows]
    buildings = {a.building_id: address for a, address in rows}
    found += [Place(f"b{b}", b, None, address) for b, address in buildings.items()]
    return found


def place(session: Session, actor: Actor, today: date, key: str) -> Place | None:
    return next((p for p in places(session, actor, today) if p.key == key), None)


def recent_requests(session: Session, actor: Actor, today: date) -> list[RequestRow]:
    query = (
        visible_requests(actor, today)
        .order_by(col(ServiceRequest.created_at).desc(), col(ServiceRequest.id).desc())
        .limit(RECENT_REQUESTS)
    )
    return load_rows(session, query)
