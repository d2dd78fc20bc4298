"""The batch queries of the billing run: every fact a batch of apartments is billed from.

A batch (`BATCH` apartments by id) is loaded with a handful of queries whatever its size:
the apartments with their company, their meters, the consumption of all those meters
(`sensors.usage.bulk.period_consumption`), the buildings' common heat meters and areas, the
incidents, the months billed by estimate just before, and, for the few meters that need
them, the meter's average and the consumption of those months now. Drafting the lines from
these facts (`billing.runs.lines`) asks the database nothing.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import exists, func, or_
from sqlmodel import Session, col, select

from billing.models import Invoice
from billing.rules import BillingRules
from billing.runs.estimates import estimated_rows, months_consumption
from billing.runs.prepared import PreparedRun, month_bounds
from billing.tariffs.quality import Incident
from housing.db import among
from housing.incidents.allowances import allowed_interruption
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.registry.models import Apartment, BuildingManagement
from housing.registry.periods import in_force
from sensors.models import Meter, MeterKind
from sensors.usage.bulk import period_consumption
from sensors.usage.consumption import ConsumptionResult
from sensors.usage.estimation import EstimatedLine, averaged, needs_average, reading_label
from sensors.usage.series import meter_average

BATCH = 2000
SHARED_KINDS = (MeterKind.heat,)  # a building's common meter shared by area among its flats


@dataclass(frozen=True, slots=True)
class ApartmentRow:
    """An apartment as the run bills it, with the company managing it on the month's last day."""

    id: int
    building_id: int
    area_m2: Decimal
    residents: int
    company_id: int | None


@dataclass(frozen=True, slots=True)
class BatchFacts:
    """What a batch's lines are worked out from, read with a few queries for the whole batch."""

    meters: dict[tuple[int, str], int]  # (apartment, kind) -> meter
    usage: dict[int, ConsumptionResult]  # meter -> its consumption in the month
    incidents: dict[int, list[Incident]]  # building -> its incidents overlapping the month
    common: dict[tuple[int, str], int]  # (building, kind) -> its common meter (SHARED_KINDS)
    areas: dict[int, Decimal]  # building -> its apartments' total area (buildings with a common meter)
    # (apartment, service) -> the row of months just before this one billed without a reading
    estimated: dict[tuple[int, int], list[EstimatedLine]]
    # meter -> its average month, for the meters without the month's consumption that may use it
    averages: dict[int, Decimal | None]
    # meter -> its consumption now in the months of its row billed by estimate (metered again)
    actuals: dict[int, dict[date, ConsumptionResult]]


def unbilled_batch(
    session: Session, period: date, timezone: str, after: int, only: Sequence[int] | None
) -> list[ApartmentRow]:
    """The next batch of unbilled apartments, each with the company managing it on the month's last day."""
    _, end, _, _ = month_bounds(period, timezone)
    last_day = end - timedelta(days=1)
    billed = exists().where(Invoice.apartment_id == Apartment.id, Invoice.period == period)
    query = (
        select(
            Apartment.id,
            Apartment.building_id,
            Apartment.area_m2,
            Apartment.registered_residents,
            BuildingManagement.company_id,
        )
        .outerjoin(
            BuildingManagement,
            (BuildingManagement.building_id == Apartment.building_id)
            & in_force(BuildingManagement, last_day),
        )
        .where(Apartment.id > after, ~billed)
        .order_by(Apartment.id)
        .limit(BATCH)
    )
    if only is not None:
        query = query.where(col(Apartment.id).in_(list(only)))
    return [ApartmentRow(*row) for row in session.exec(query).all()]


def load_facts(
    session: Session, prepared: PreparedRun, rules: BillingRules, batch: list[ApartmentRow]
) -> BatchFacts:
    """Every fact the batch's lines need, loaded before any line is drafted."""
    start, end, start_at, end_at = prepared.bounds
    timezone, tolerance = prepared.timezone, prepared.tolerance
    meters = _meters(session, [a.id for a in batch], start, end)
    common = _common_meters(session, {a.building_id for a in batch}, start, end)
    usage = period_consumption(
        session,
        [*meters.values(), *common.values()],
        start_at,
        end_at,
        timezone=timezone,
        replaced=prepared.replaced,
        tolerance=tolerance,
    )
    by_kind = defaultdict(list)
    for service in prepared.tariffs.services:
        if service.meter_kind is not None:
            by_kind[service.meter_kind].append(service.id)
    with_meter = [(a, service_id) for (a, kind) in meters for service_id in by_kind.get(kind, ())]
    estimated = estimated_rows(session, with_meter, prepared.period)
    averages: dict[int, Decimal | None] = {}
    rows: dict[int, dict[date, EstimatedLine]] = defaultdict(dict)
    managed = {a.id for a in batch if a.company_id is not None}  # the others are not billed
    for (apartment_id, kind), meter_id in meters.items():
        if apartment_id not in managed:
            continue
        for service_id in by_kind.get(kind, ()):
            row = estimated.get((apartment_id, service_id), [])
            result = usage[meter_id]
            if meter_id not in averages and needs_average(result, averaged(row)):
                averages[meter_id] = meter_average(
                    session, meter_id, prepared.period, timezone=timezone, tolerance=tolerance
                )
            if row and reading_label(result) != "insufficient":
                rows[meter_id].update((line.period, line) for line in row)
    return BatchFacts(
        meters=meters,
        usage=usage,
        incidents=_incidents(session, {a.building_id for a in batch}, start_at, end_at, rules),
        common=common,
        areas=_areas(session, {building_id for building_id, _ in common}),
        estimated=estimated,
        averages=averages,
        actuals={
            meter_id: months_consumption(
                session, meter_id, row.values(), timezone=timezone, tolerance=tolerance
            )
            for meter_id, row in rows.items()
        },
    )


def _meters(session: Session, apartment_ids: list[int], start: date, end: date) -> dict[tuple[int, str], int]:
    """(apartment, meter kind) -> the meter in service during the month (the latest installed)."""
    rows = session.exec(
        select(Meter.id, Meter.apartment_id, Meter.kind)
        .where(
            among(session, Meter.apartment_id, apartment_ids),
            Meter.installed_on < end,
            or_(col(Meter.removed_on).is_(None), Meter.removed_on > start),
        )
        .order_by(Meter.installed_on, Meter.id)
    ).all()
    return {(apartment_id, str(kind)): meter_id for meter_id, apartment_id, kind in rows}


def _common_meters(
    session: Session, building_ids: set[int], start: date, end: date
) -> dict[tuple[int, str], int]:
    """(building, kind) -> the building's common meter of a shared kind in service during the month."""
    if not building_ids:
        return {}
    rows = session.exec(
        select(Meter.id, Meter.building_id, Meter.kind)
        .where(
            among(session, Meter.building_id, sorted(building_ids)),
            col(Meter.apartment_id).is_(None),
            col(Meter.kind).in_([k.value for k in SHARED_KINDS]),
            Meter.installed_on < end,
            or_(col(Meter.removed_on).is_(None), Meter.removed_on > start),
        )
        .order_by(Meter.installed_on, Meter.id)
    ).all()
    return {(building_id, str(kind)): meter_id for meter_id, building_id, kind in rows}


def _areas(session: Session, building_ids: set[int]) -> dict[int, Decimal]:
    """building -> the total area of its apartments (what a common meter is shared over)."""
    if not building_ids:
        return {}
    rows = session.exec(
        select(Apartment.building_id, func.sum(Apartment.area_m2))
        .where(among(session, Apartment.building_id, sorted(building_ids)))
        .group_by(Apartment.building_id)
    ).all()
    return {building_id: Decimal(total) for building_id, total in rows}


def _incidents(
    session: Session, building_ids: set[int], start_at: datetime, end_at: datetime, rules: BillingRules
) -> dict[int, list[Incident]]:
    """building -> its incidents overlapping the month; a planned outage's allowance counts for nothing."""
    rows = session.exec(
        select(
            ServiceIncident.building_id,
            ServiceIncident.started_at,
            ServiceIncident.ended_at,
            ServiceIncident.deviation,
            ServiceIncident.utility,
            ServiceIncident.source,
        ).where(
            col(ServiceIncident.building_id).in_(building_ids),
            ServiceIncident.started_at < end_at,
            or_(col(ServiceIncident.ended_at).is_(None), ServiceIncident.ended_at > start_at),
        )
    ).all()
    found: dict[int, list[Incident]] = defaultdict(list)
    for building_id, started_at, ended_at, deviation, utility, source in rows:
        allowed = timedelta(0)
        if source == IncidentSource.planned:
            allowed = allowed_interruption(Utility(utility), IncidentSource.planned, rules.outages)
        found[building_id].append(Incident(started_at, ended_at, deviation, str(utility), allowed))
    return found
