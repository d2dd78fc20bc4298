"""JSON route of a meter's consumption over a period: load within the actor's scope, compute, return."""

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Invalid
from housing.schemas import API_PROBLEMS
from housing.validation import Id, Moment
from sensors.meters.queries import visible_meter
from sensors.models import Meter
from sensors.usage.consumption import Boundary, ConsumptionResult
from sensors.usage.estimation import reading_label
from sensors.usage.series import meter_consumption

router = APIRouter(tags=["meters"], responses=API_PROBLEMS)

MAX_PERIOD = timedelta(days=400)
_SHOWN = Decimal("0.001")


class BoundaryRead(BaseModel):
    at: datetime = Field(description="The period boundary, or where metering began or ended inside it")
    value: Decimal = Field(description="Register value used there, counting rollovers, 3 decimals")
    how: Literal["read", "interpolated", "extrapolated"] = Field(
        description="extrapolated: extended from readings on one side, within the boundary tolerance"
    )
    estimated_hours: Decimal | None = Field(
        description="Hours between the boundary and the nearest reading inside the period when its"
        " value is an estimate (extended, or interpolated across a silence longer than the tolerance)"
    )


class ExcludedRead(BaseModel):
    taken_at: datetime
    value: Decimal
    verdict: str | None = Field(description="Staff's review; none yet means it waits for one")


class ConsumptionPartRead(BaseModel):
    meter_id: int | None
    how: Literal["metered", "insufficient"]
    quantity: Decimal | None
    start: BoundaryRead | None
    end: BoundaryRead | None
    reason: str


class ConsumptionRead(BaseModel):
    meter_id: Id
    unit: str
    start: datetime
    end: datetime
    how: Literal["metered", "insufficient"] = Field(
        description="metered: from the readings; insufficient: too few readings to tell (quantity is null)"
    )
    label: Literal["metered", "metered_estimated", "insufficient"] = Field(
        description="As an invoice line names it: metered, metered with an estimated boundary"
        " (estimated_hours), or insufficient (billed by the average or the norm)"
    )
    estimated_hours: Decimal | None = Field(description="Hours of the period at its ends that were estimated")
    rule: Literal["smart", "manual"] = Field(
        description="smart: boundaries interpolated between readings; manual: the period's reading"
        " minus the previous one"
    )
    covers: int = Field(
        description="Manual meters: months since the previous reading; the quantity is one's share"
    )
    quantity: Decimal | None = Field(description="In the meter's unit, 3 decimals, rounded half up")
    reason: str = Field(description="Why it is insufficient")
    start_value: BoundaryRead | None
    end_value: BoundaryRead | None
    parts: list[ConsumptionPartRead] = Field(description="Each meter's share across a replacement")
    excluded: list[ExcludedRead] = Field(
        description="Readings that went backwards and count for nothing until staff confirm them"
    )


def _aware(value: datetime, timezone: str) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(timezone))


def _boundary(boundary: Boundary | None) -> BoundaryRead | None:
    if boundary is None:
        return None
    value = boundary.value.quantize(_SHOWN, rounding=ROUND_HALF_UP)
    return BoundaryRead(
        at=boundary.at, value=value, how=boundary.how, estimated_hours=boundary.estimated_hours
    )


def _read(meter: Meter, start: datetime, end: datetime, result: ConsumptionResult) -> ConsumptionRead:
    return ConsumptionRead(
        meter_id=meter.id,
        unit=meter.unit,
        start=start,
        end=end,
        how=result.how,
        label=reading_label(result),
        estimated_hours=result.estimated_hours,
        rule="manual" if result.manual else "smart",
        covers=result.covers,
        quantity=result.quantity,
        reason=result.reason,
        start_value=_boundary(result.start),
        end_value=_boundary(result.end),
        parts=[
            ConsumptionPartRead(
                meter_id=part.meter_id,
                how=part.how,
                quantity=part.quantity,
                start=_boundary(part.start),
                end=_boundary(part.end),
                reason=part.reason,
            )
            for part in result.parts
        ],
        excluded=[
            ExcludedRead(taken_at=p.taken_at, value=p.value, verdict=p.verdict) for p in result.excluded
        ],
    )


@router.get("/meters/{meter_id}/consumption", response_model=ConsumptionRead)
def read_consumption(
    meter_id: Id,
    start: Annotated[Moment, Query(description="Period start; without a zone, in the city's time zone")],
    end: Annotated[Moment, Query(description="Period end (exclusive); without a zone, in the city's")],
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    today: Today,
):
    """Consumption over the period, across meter replacements, by the meter's rule (smart or manual).

    A smart meter's boundaries are interpolated between readings, or extended from one side
    within the boundary tolerance (`HOUSING_METERS__BOUNDARY_TOLERANCE_HOURS`); `label` says
    what an invoice line would call it.
    """
    timezone = settings.timezone
    start, end = _aware(start, timezone), _aware(end, timezone)
    if end <= start:
        raise Invalid("end must be after start", field="end")
    if end - start > MAX_PERIOD:
        raise Invalid(f"ask for at most {MAX_PERIOD.days} days at a time", field="end")
    meter = visible_meter(session, actor, today, meter_id)  # after the period: 422 before 404
    result = meter_consumption(
        session, meter.id, start, end, timezone=timezone, tolerance=settings.meters.boundary_tolerance
    )
    return _read(meter, start, end, result)
