"""What the twin shows about a set of buildings, read from what the platform stores.

Each function takes the buildings it asks about (or None: the whole city) and answers in
a few grouped queries whatever their number, so the building view, the city map, the
grading job and the "cold now" list share one definition of each fact:

- a cold flat is an apartment with an open heating incident raised by its indoor sensor
  (the `detect-incidents` job opens one only in the heating season, after an hour below
  the norm);
- an overdue request is one whose deadline has passed while work is owed (housing.requests'
  OPEN statuses; a deferred request waits for its date);
- a debt past due is an account that owes money now and has an unpaid invoice past its
  due date;
- an open alert is a meter alert not closed yet (leak, backwards, stale = silent meter).
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, func
from sqlmodel import Session, col, select

from billing.models import Invoice, InvoiceStatus, LedgerEntry
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.registry.models import Apartment
from housing.requests.lifecycle import OPEN
from housing.requests.models import ServiceRequest
from sensors.models import Alert, AlertKind, Meter

UNPAID = (InvoiceStatus.issued, InvoiceStatus.partially_paid)

Buildings = Collection[int] | None  # None: every building of the city


def _within(query: Select, column, building_ids: Buildings) -> Select:
    return query if building_ids is None else query.where(col(column).in_(list(building_ids)))


@dataclass(frozen=True, slots=True)
class ColdFlat:
    building_id: int
    apartment_id: int
    since: datetime  # the first measurement below the norm
    deviation: Decimal | None  # the worst shortfall in degrees C so far


def cold_flats_query(building_ids: Buildings = None) -> Select:
    """The statement of `cold_flats`, unordered: one row per cold apartment (building id,
    apartment id, since, deviation), for a caller that counts or joins them in SQL (the map)."""
    query = select(
        ServiceIncident.building_id,
        ServiceIncident.apartment_id,
        func.min(ServiceIncident.started_at).label("since"),
        func.max(ServiceIncident.deviation).label("deviation"),
    ).where(
        col(ServiceIncident.ended_at).is_(None),
        ServiceIncident.utility == Utility.heating,
        ServiceIncident.source == IncidentSource.sensor,
        col(ServiceIncident.apartment_id).is_not(None),
    )
    query = _within(query, ServiceIncident.building_id, building_ids)
    return query.group_by(ServiceIncident.building_id, ServiceIncident.apartment_id)


def cold_flats(session: Session, building_ids: Buildings = None) -> list[ColdFlat]:
    """Apartments cold now: open heating incidents of indoor sensors, longest cold first."""
    query = cold_flats_query(building_ids)
    rows = session.execute(
        query.order_by(func.min(ServiceIncident.started_at), ServiceIncident.apartment_id)
    ).all()
    return [ColdFlat(*row) for row in rows]


def overdue_requests_query(now: datetime, building_ids: Buildings = None) -> Select:
    """The statement of `overdue_requests`: (building id, n) for a caller that joins it in SQL (the map)."""
    query = select(ServiceRequest.building_id, func.count().label("n")).where(
        col(ServiceRequest.status).in_(OPEN), ServiceRequest.deadline_at < now
    )
    query = _within(query, ServiceRequest.building_id, building_ids)
    return query.group_by(ServiceRequest.building_id)


def overdue_requests(session: Session, now: datetime, building_ids: Buildings = None) -> dict[int, int]:
    """building id -> open requests past their deadline now (buildings with none are left out)."""
    return dict(session.execute(overdue_requests_query(now, building_ids)).all())


def open_requests(session: Session, building_ids: Collection[int]) -> list[ServiceRequest]:
    """Requests where work is owed in these buildings, the nearest deadline first."""
    query = select(ServiceRequest).where(
        col(ServiceRequest.status).in_(OPEN), col(ServiceRequest.building_id).in_(list(building_ids))
    )
    return list(session.exec(query.order_by(ServiceRequest.deadline_at, ServiceRequest.id)))


def debts_past_due(session: Session, today: date, building_ids: Buildings = None) -> dict[int, int]:
    """apartment id -> what it owes now (minor units), for accounts with an unpaid invoice
    due before `today` that owe more than nothing."""
    apartments = _within(select(Apartment.id), Apartment.building_id, building_ids)
    past_due = select(Invoice.apartment_id).where(
        col(Invoice.status).in_(UNPAID),
        Invoice.due_date < today,
        col(Invoice.apartment_id).in_(apartments),
    )
    owed = func.sum(LedgerEntry.amount_minor)
    query = (
        select(LedgerEntry.apartment_id, owed)
        .where(col(LedgerEntry.apartment_id).in_(past_due))
        .group_by(LedgerEntry.apartment_id)
        .having(owed > 0)
    )
    return dict(session.execute(query).all())


@dataclass(frozen=True, slots=True)
class OpenAlert:
    building_id: int
    apartment_id: int | None  # None: a common (whole-building) meter
    meter_id: int
    serial: str
    kind: AlertKind
    opened_at: datetime
    detail: str


def open_alerts(session: Session, building_ids: Buildings = None) -> list[OpenAlert]:
    """Alerts not closed yet on the buildings' meters, oldest first."""
    query = (
        select(
            Meter.building_id,
            Meter.apartment_id,
            Meter.id,
            Meter.serial,
            Alert.kind,
            Alert.opened_at,
            Alert.detail,
        )
        .join(Meter, Meter.id == Alert.meter_id)
        .where(col(Alert.closed_at).is_(None))
    )
    query = _within(query, Meter.building_id, building_ids)
    rows = session.execute(query.order_by(Alert.opened_at, Alert.id)).all()
    return [OpenAlert(*row) for row in rows]


def by_building(items) -> dict[int, list]:
    """Groups facts that carry a `building_id` by it."""
    grouped: dict[int, list] = defaultdict(list)
    for item in items:
        grouped[item.building_id].append(item)
    return grouped
