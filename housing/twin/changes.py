"""Whether an open building view needs redrawing: a fingerprint of each watched building.

The live hub (`housing.twin.live`) asks this every `settings.twin.live_seconds` for all the
buildings open in some browser at once, in a fixed set of grouped queries whatever their
number. A fingerprint changes when anything the view shows changes:

- the set of open meter alerts (count, largest and summed ids: a new alert always has a
  larger id, a closed one leaves the set);
- the set of incidents not over, and how many of them have begun (a planned outage starting);
- the open requests: their set, their latest update, how many are past their deadline;
- the hour of the latest temperature measured (the charts are hourly);
- the latest reading of a common heat meter;
- the grade's `graded_at`;
- new ledger entries of its apartments (debts past due), found by the entries added since
  the previous look (the ledger only grows), and the city day (a due date passing);
- while an incident is going on, the quarter hour (its duration shown grows).

Each is read only over the rows that matter now (open ones, the last hours), by the indexes
the tables have, so a look costs about the same for 1 or 200 buildings.
"""

import hashlib
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from billing.models import LedgerEntry
from housing.incidents.models import ServiceIncident
from housing.registry.models import Apartment, Building
from housing.requests.lifecycle import OPEN
from housing.requests.models import ServiceRequest
from housing.twin.models import BuildingGrade
from sensors.models import Alert, Measurement, Meter, MeterKind, Reading, Sensor

RECENT = timedelta(hours=2)  # measurements looked at for the latest hour
# Durations shown (an outage's hours against its allowance) grow with the clock: a view is
# drawn again at least this often while anything is going on in the building.
REFRESH_MINUTES = 15
HEAT_RECENT = timedelta(days=1)


class LedgerCursor:
    """The ledger's largest id at the previous look, and the last entry seen per building.

    The ledger is append-only, so entries added since the previous look are those above
    its largest id then: one cheap range read instead of every apartment's entries.
    """

    def __init__(self) -> None:
        self.seen_up_to: int | None = None
        self.latest: dict[int, int] = {}

    def changes(self, session: Session, building_ids: list[int]) -> dict[int, int]:
        top = session.exec(select(func.max(LedgerEntry.id))).one() or 0
        if self.seen_up_to is not None and top > self.seen_up_to:
            rows = session.execute(
                select(Apartment.building_id, func.max(LedgerEntry.id))
                .join(Apartment, Apartment.id == LedgerEntry.apartment_id)
                .where(LedgerEntry.id > self.seen_up_to, col(Apartment.building_id).in_(building_ids))
                .group_by(Apartment.building_id)
            )
            self.latest.update({b: v for b, v in rows})
        self.seen_up_to = top
        self.latest = {b: v for b, v in self.latest.items() if b in building_ids}  # only the watched
        return self.latest


def fingerprints(
    session: Session, building_ids: Collection[int], now: datetime, today: date, ledger: LedgerCursor
) -> dict[int, str]:
    """building id -> a short hex fingerprint of what its view shows, for each id that exists."""
    ids = sorted(set(building_ids))
    if not ids:
        return {}
    parts: dict[int, list] = defaultdict(list)

    def add(name: str, rows) -> None:
        for building_id, *values in rows:
            parts[building_id].append((name, *[str(v) for v in values]))

    add(
        "alerts",
        session.execute(
            select(Meter.building_id, func.count(), func.max(Alert.id), func.sum(Alert.id))
            .join(Meter, Meter.id == Alert.meter_id)
            .where(col(Alert.closed_at).is_(None), col(Meter.building_id).in_(ids))
            .group_by(Meter.building_id)
        ),
    )
    begun = func.sum(case((ServiceIncident.started_at <= now, 1), else_=0))
    add(
        "incidents",
        session.execute(
            select(
                ServiceIncident.building_id,
                func.count(),
                func.max(ServiceIncident.id),
                func.sum(ServiceIncident.id),
                begun,
            )
            .where(
                col(ServiceIncident.building_id).in_(ids),
                col(ServiceIncident.ended_at).is_(None) | (col(ServiceIncident.ended_at) > now),
            )
            .group_by(ServiceIncident.building_id)
        ),
    )
    overdue = func.sum(case((ServiceRequest.deadline_at < now, 1), else_=0))
    add(
        "requests",
        session.execute(
            select(
                ServiceRequest.building_id,
                func.count(),
                func.max(ServiceRequest.id),
                func.sum(ServiceRequest.id),
                func.max(ServiceRequest.updated_at),
                overdue,
            )
            .where(col(ServiceRequest.status).in_(OPEN), col(ServiceRequest.building_id).in_(ids))
            .group_by(ServiceRequest.building_id)
        ),
    )
    latest = session.execute(
        select(Sensor.building_id, func.max(Measurement.taken_at))
        .join(Sensor, Sensor.id == Measurement.sensor_id)
        .where(col(Sensor.building_id).in_(ids), Measurement.taken_at >= now - RECENT)
        .group_by(Sensor.building_id)
    )
    add("hour", ((b, taken_at.replace(minute=0, second=0, microsecond=0)) for b, taken_at in latest))
    add(
        "heat",
        session.execute(
            select(Meter.building_id, func.max(Reading.taken_at))
            .join(Meter, Meter.id == Reading.meter_id)
            .where(
                col(Meter.building_id).in_(ids),
                Meter.kind == MeterKind.heat,
                col(Meter.apartment_id).is_(None),
                Reading.taken_at >= now - HEAT_RECENT,
            )
            .group_by(Meter.building_id)
        ),
    )
    add(
        "grade",
        session.execute(
            select(BuildingGrade.building_id, BuildingGrade.graded_at).where(
                col(BuildingGrade.building_id).in_(ids)
            )
        ),
    )
    ledger_latest = ledger.changes(session, ids)
    add("ledger", ((b, ledger_latest[b]) for b in ids if b in ledger_latest))
    existing = session.exec(select(Building.id).where(col(Building.id).in_(ids))).all()
    quarter = now.replace(minute=now.minute - now.minute % REFRESH_MINUTES, second=0, microsecond=0)
    for building_id in existing:
        if any(part[0] == "incidents" for part in parts[building_id]):
            parts[building_id].append(("clock", quarter.isoformat()))
    return {building_id: _digest(today, parts[building_id]) for building_id in existing}


def _digest(today: date, parts: list) -> str:
    text = repr((today.isoformat(), sorted(parts)))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]
