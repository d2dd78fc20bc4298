"""Meter and sensor verbs. Each validates what the database cannot say clearly, flushes, never commits.

Readings are never edited: a correction and a review sit beside the reading they concern,
and the effective value (newest correction, else the value read) is worked out on reading.

Over 500 lines on purpose: registering, replacing and reading a meter share the same
replacement chain, effective-value expression and register rounding; split apart, each
half would import the other's private helpers.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, SQLModel, select

from housing import clock
from housing.errors import Conflict, Forbidden, Invalid, NotFound
from housing.registry.models import Apartment, Building
from sensors.models import (
    UNITS,
    BackwardsVerdict,
    Meter,
    MeterKind,
    Reading,
    ReadingCorrection,
    ReadingReview,
    ReadingSource,
    Sensor,
    SensorKind,
    StaffReading,
)
from sensors.usage.points import COUNTING_VERDICTS, EffectivePoint, flag_backwards

_TICK = timedelta(microseconds=1)  # the smallest step between two stored timestamps
_THOUSANDTH = Decimal("0.001")


def _register(value: Decimal) -> Decimal:
    """A register value as the database returns it, three decimals, so a new row reads the same."""
    return Decimal(value).quantize(_THOUSANDTH)


def _amount(value: Decimal, meter: Meter) -> str:
    return f"{_register(value)} {meter.unit}"


# Registering devices


def _placement(session: Session, building_id: int | None, apartment_id: int | None) -> tuple[int, int | None]:
    """(building_id, apartment_id) of a device; an apartment names its building."""
    if apartment_id is not None:
        apartment = session.get(Apartment, apartment_id)
        if apartment is None:
            raise Invalid(f"apartment {apartment_id} does not exist", field="apartment_id")
        if building_id is not None and building_id != apartment.building_id:
            raise Invalid(
                f"apartment {apartment_id} is in building {apartment.building_id}, not {building_id}",
                field="apartment_id",
            )
        return apartment.building_id, apartment_id
    if building_id is None or session.get(Building, building_id) is None:
        raise Invalid(f"building {building_id} does not exist", field="building_id")
    return building_id, None


def _unique_serial(session: Session, model: type[SQLModel], serial: str) -> None:
    if session.exec(select(model.id).where(model.serial == serial)).first() is not None:
        raise Conflict(f"serial {serial!r} is already registered", field="serial")


def register_meter(
    session: Session,
    *,
    serial: str,
    kind: MeterKind,
    installed_on: date,
    building_id: int | None = None,
    apartment_id: int | None = None,
    smart: bool = True,
    digits: int | None = None,
    verification_due: date | None = None,
    initial_value: Decimal = Decimal(0),
) -> Meter:
    building_id, apartment_id = _placement(session, building_id, apartment_id)
    _unique_serial(session, Meter, serial)
    if verification_due is not None and verification_due < installed_on:
        raise Invalid("verification_due must not be before installed_on", field="verification_due")
    kind = MeterKind(kind)
    meter = Meter(
        serial=serial,
        kind=kind,
        unit=UNITS[kind],
        building_id=building_id,
        apartment_id=apartment_id,
        smart=smart,
        digits=digits,
        installed_on=installed_on,
        verification_due=verification_due,
        initial_value=_register(initial_value),
    )
    session.add(meter)
    session.flush()
    return meter


def register_sensor(
    session: Session,
    *,
    serial: str,
    kind: SensorKind,
    installed_on: date,
    building_id: int | None = None,
    apartment_id: int | None = None,
) -> Sensor:
    building_id, apartment_id = _placement(session, building_id, apartment_id)
    _unique_serial(session, Sensor, serial)
    sensor = Sensor(
        serial=serial,
        kind=SensorKind(kind),
        building_id=building_id,
        apartment_id=apartment_id,
        installed_on=installed_on,
    )
    session.add(sensor)
    session.flush()
    return sensor


# Replacement: the old meter closes with its final value, the new one starts a new series.


def replace_meter(
    session: Session,
    meter: Meter,
    *,
    removed_on: date,
    final_value: Decimal,
    serial: str,
    today: date,
    installed_on: date | None = None,
    initial_value: Decimal = Decimal(0),
    verification_due: date | None = None,
    smart: bool | None = None,
    digits: int | None = None,
) -> Meter:
    """Closes `meter` and registers its successor in the same place; returns the new meter."""
    if meter.removed_on is not None:
        successor = f", replaced by meter {meter.replaced_by_id}" if meter.replaced_by_id else ""
        raise Conflict(f"meter {meter.id} was already removed on {meter.removed_on}{successor}")
    if removed_on < meter.installed_on:
        raise Invalid(
            f"removed_on {removed_on} is before the meter was installed ({meter.installed_on})",
            field="removed_on",
        )
    if removed_on > today:
        raise Invalid(f"removed_on {removed_on} is in the future", field="removed_on")
    latest = latest_counting_value(session, meter.id)
    floor = latest if latest is not None else meter.initial_value
    if final_value < floor:
        what = "the latest reading" if latest is not None else "the meter's initial value"
        raise Invalid(
            f"final_value {_amount(final_value, meter)} is below {what}, {_amount(floor, meter)}",
            field="final_value",
        )
    successor = register_meter(
        session,
        serial=serial,
        kind=meter.kind,
        building_id=meter.building_id,
        apartment_id=meter.apartment_id,
        smart=meter.smart if smart is None else smart,
        digits=meter.digits if digits is None else digits,
        installed_on=installed_on or removed_on,
        verification_due=verification_due,
        initial_value=initial_value,
    )
    meter.removed_on = removed_on
    meter.final_value = _register(final_value)
    meter.replaced_by_id = successor.id
    session.add(meter)
    session.flush()
    return successor


def replacement_chain(session: Session, meter: Meter) -> list[int]:
    """Ids of the meters in `meter`'s replacement series, oldest first."""
    seen = {meter.id}
    older: list[int] = []
    current = meter.id
    while (
        previous := session.exec(select(Meter.id).where(Meter.replaced_by_id == current)).first()
    ) is not None:
        if previous in seen:
            break
        seen.add(previous)
        older.append(previous)
        current = previous
    newer: list[int] = []
    following = meter.replaced_by_id
    while following is not None and following not in seen:
        seen.add(following)
        newer.append(following)
        following = session.exec(select(Meter.replaced_by_id).where(Meter.id == following)).one()
    return [*reversed(older), meter.id, *newer]


def predecessors(session: Session, meter_ids: Sequence[int]) -> dict[int, int]:
    """meter id -> id of the meter it replaced, for those that replaced one."""
    if not meter_ids:
        return {}
    rows = session.exec(select(Meter.replaced_by_id, Meter.id).where(Meter.replaced_by_id.in_(meter_ids)))
    return dict(rows.all())


# Effective readings


def _effective_value() -> ColumnElement:
    """A reading's value after correction: the newest correction's, else its own."""
    newest = (
        select(ReadingCorrection.value)
        .where(ReadingCorrection.meter_id == Reading.meter_id, ReadingCorrection.taken_at == Reading.taken_at)
        .order_by(ReadingCorrection.id.desc())
        .limit(1)
        .correlate(Reading)
        .scalar_subquery()
    )
    return func.coalesce(newest, Reading.value)


def latest_counting_value(session: Session, meter_id: int, before: datetime | None = None) -> Decimal | None:
    """The effective value of the latest reading (before `before`) that counts, None with no readings.

    Between two readings confirmed as rollover or replacement the counting readings only
    rise, so it is the highest effective value since the latest confirmed one.
    """
    reset = select(func.max(ReadingReview.taken_at)).where(
        ReadingReview.meter_id == meter_id, ReadingReview.verdict.in_(sorted(COUNTING_VERDICTS))
    )
    query = select(func.max(_effective_value())).where(Reading.meter_id == meter_id)
    if before is not None:
        reset = reset.where(ReadingReview.taken_at < before)
        query = query.where(Reading.taken_at < before)
    reset = reset.scalar_subquery()
    return session.exec(query.where(or_(reset.is_(None), Reading.taken_at >= reset))).one()


def effective_readings(
    session: Session, meter_id: int, start: datetime | None = None, end: datetime | None = None
) -> list[EffectivePoint]:
    """The meter's readings with start <= taken_at < end, oldest first, as consumption sees them.

    Each point carries its effective value, whether it went backwards against the latest
    preceding point that counts (readings before `start` included) and staff's verdict.
    """
    query = (
        select(Reading.taken_at, _effective_value(), Reading.source, ReadingReview.verdict)
        .outerjoin(
            ReadingReview,
            and_(ReadingReview.meter_id == Reading.meter_id, ReadingReview.taken_at == Reading.taken_at),
        )
        .where(Reading.meter_id == meter_id)
        .order_by(Reading.taken_at)
    )
    reference = None
    if start is not None:
        query = query.where(Reading.taken_at >= start)
        reference = latest_counting_value(session, meter_id, before=start)
    if end is not None:
        query = query.where(Reading.taken_at < end)
    rows = (
        (taken_at, value, str(source), str(verdict) if verdict is not None else None)
        for taken_at, value, source, verdict in session.exec(query)
    )
    return flag_backwards(rows, reference)


def get_reading(session: Session, meter_id: int, taken_at: datetime) -> Reading:
    if taken_at.tzinfo is None:
        raise Invalid("taken_at must include a time zone, e.g. 2026-11-01T00:15:00Z", field="taken_at")
    reading = session.get(Reading, (meter_id, taken_at))
    if reading is None:
        raise NotFound(f"meter {meter_id} has no reading taken at {taken_at.astimezone(UTC).isoformat()}")
    return reading


def reading_details(session: Session, meter_id: int, readings: Sequence[Reading]) -> list[dict[str, Any]]:
    """Each reading with its effective value, newest correction, review and backwards flag."""
    if not readings:
        return []
    first = min(r.taken_at for r in readings)
    last = max(r.taken_at for r in readings) + _TICK
    points = {p.taken_at: p for p in effective_readings(session, meter_id, first, last)}
    in_span = (ReadingCorrection.taken_at >= first, ReadingCorrection.taken_at < last)
    corrections = {
        c.taken_at: c
        for c in session.exec(
            select(ReadingCorrection)
            .where(ReadingCorrection.meter_id == meter_id, *in_span)
            .order_by(ReadingCorrection.id)
        )
    }  # the newest of each reading's corrections is the one left in the dict
    reviews = {
        r.taken_at: r
        for r in session.exec(
            select(ReadingReview).where(
                ReadingReview.meter_id == meter_id,
                ReadingReview.taken_at >= first,
                ReadingReview.taken_at < last,
            )
        )
    }
    entries = {
        e.taken_at: e
        for e in session.exec(
            select(StaffReading).where(
                StaffReading.meter_id == meter_id,
                StaffReading.taken_at >= first,
                StaffReading.taken_at < last,
            )
        )
    }
    details = []
    for reading in readings:
        point = points[reading.taken_at]
        details.append(
            {
                "meter_id": reading.meter_id,
                "taken_at": reading.taken_at,
                "value": reading.value,
                "source": reading.source,
                "received_at": reading.received_at,
                "effective_value": point.value,
                "correction": corrections.get(reading.taken_at),
                "backwards": point.backwards,
                "review": reviews.get(reading.taken_at),
                "entry": entries.get(reading.taken_at),
                "counts": point.counts,
            }
        )
    return details


# Manual readings, corrections and reviews


def in_window(day: int, start_day: int, end_day: int) -> bool:
    """Whether a day of the month is inside the window; a window may run across the month's end."""
    if start_day <= end_day:
        return start_day <= day <= end_day
    return day >= start_day or day <= end_day


def _local_day_bounds(now: datetime, timezone: str) -> tuple[date, datetime, datetime]:
    """The local day of `now` and the UTC moments it starts and ends."""
    day = clock.local_day(now, timezone)
    return day, clock.local_midnight(day, timezone), clock.local_midnight(day + timedelta(days=1), timezone)


def submit_reading(
    session: Session,
    meter: Meter,
    *,
    value: Decimal,
    now: datetime,
    timezone: str,
    by_resident: bool,
    window: tuple[int, int],
) -> Reading:
    """A reading read by hand, taken now.

    A resident reads their own meters that do not report by themselves, only inside the
    monthly window and never below the latest reading that counts. Staff may enter one
    any day; theirs is stored even when it goes backwards, flagged for review like a
    device's. One manual reading per meter and local day.
    """
    if meter.removed_on is not None:
        raise Conflict(
            f"meter {meter.serial} was removed on {meter.removed_on}; submit readings of its successor"
        )
    day, day_start, day_end = _local_day_bounds(now, timezone)
    if by_resident:
        if meter.smart:
            raise Forbidden(f"meter {meter.serial} is a smart meter and sends its readings by itself")
        start_day, end_day = window
        if not in_window(day.day, start_day, end_day):
            raise Invalid(
                f"readings are accepted from day {start_day} to day {end_day} of each month; "
                f"today is {day.isoformat()} ({timezone}), so please submit it then",
                field="value",
            )
    already = session.exec(
        select(Reading.taken_at).where(
            Reading.meter_id == meter.id,
            Reading.source == ReadingSource.manual.value,
            Reading.taken_at >= day_start,
            Reading.taken_at < day_end,
        )
    ).first()
    if already is not None:
        raise Conflict(
            f"a reading of meter {meter.serial} was already submitted today ({day.isoformat()}); "
            "ask the management company to correct it if it is wrong"
        )
    if by_resident:
        latest = latest_counting_value(session, meter.id)
        floor = latest if latest is not None else meter.initial_value
        if value < floor:
            what = "the latest reading" if latest is not None else "the meter's initial value"
            raise Invalid(
                f"{_amount(value, meter)} is lower than {what}, {_amount(floor, meter)}; a meter does not go "
                "backwards: check the digits you read",
                field="value",
            )
    reading = Reading(
        meter_id=meter.id,
        taken_at=now,
        value=_register(value),
        source=ReadingSource.manual,
        received_at=now,
    )
    session.add(reading)
    session.flush()
    return reading


def enter_staff_reading(
    session: Session,
    meter: Meter,
    *,
    taken_at: datetime,
    value: Decimal,
    reason: str,
    user_id: int,
    now: datetime,
    timezone: str,
) -> Reading:
    """A reading staff enter with its own date (a paper reading, a back-fill), source staff.

    Kept with who entered it and why (`StaffReading`). Not in the future, not before the
    meter was installed nor after the day it was removed, and never where the meter already
    has a reading (correct that one instead). Like every reading it is stored even when it
    goes backwards, and flagged; one entered above a later reading makes that one backwards,
    flagged in turn until staff correct or review it. Consumption counts it like any
    reading of the register.
    """
    if taken_at.tzinfo is None:
        raise Invalid("taken_at must include a time zone, e.g. 2026-10-31T18:00:00+05:00", field="taken_at")
    taken_at = taken_at.astimezone(UTC)
    zone = ZoneInfo(timezone)
    if taken_at > now:
        raise Invalid(
            f"taken_at {taken_at.isoformat()} is in the future (it is {now.isoformat()} now)",
            field="taken_at",
        )
    try:
        when = taken_at.astimezone(zone).isoformat()
    except OverflowError:  # the first days of year 1 west of UTC
        when = taken_at.isoformat()
    installed = datetime.combine(meter.installed_on, time(), zone)
    if taken_at < installed:
        raise Invalid(
            f"taken_at {when} is before meter {meter.serial} was installed ({meter.installed_on})",
            field="taken_at",
        )
    if meter.removed_on is not None and taken_at >= datetime.combine(
        meter.removed_on + timedelta(days=1), time(), zone
    ):
        raise Invalid(
            f"taken_at {when} is after meter {meter.serial} was removed ({meter.removed_on});"
            " enter the reading on its successor",
            field="taken_at",
        )
    reason = reason.strip()
    if not reason:
        raise Invalid("a staff reading needs a reason", field="reason")
    existing = session.get(Reading, (meter.id, taken_at))
    if existing is not None:
        raise Conflict(
            f"meter {meter.serial} already has a reading taken at {when} ({existing.source},"
            f" {_amount(existing.value, meter)}); correct that reading instead",
            field="taken_at",
        )
    reading = Reading(
        meter_id=meter.id,
        taken_at=taken_at,
        value=_register(value),
        source=ReadingSource.staff,
        received_at=now,
    )
    session.add(reading)
    session.add(StaffReading(meter_id=meter.id, taken_at=taken_at, reason=reason[:500], user_id=user_id))
    session.flush()
    return reading


def correct_reading(
    session: Session, reading: Reading, *, value: Decimal, reason: str, user_id: int
) -> ReadingCorrection:
    """Supersedes a wrong reading's value; the reading itself stays as it was read."""
    if not reason.strip():
        raise Invalid("a correction needs a reason", field="reason")
    correction = ReadingCorrection(
        meter_id=reading.meter_id,
        taken_at=reading.taken_at,
        value=_register(value),
        reason=reason.strip(),
        user_id=user_id,
    )
    session.add(correction)
    session.flush()
    return correction


def review_reading(
    session: Session, reading: Reading, *, verdict: BackwardsVerdict, reason: str, user_id: int
) -> ReadingReview:
    """Staff's verdict on a reading that went backwards; a reading is reviewed once."""
    when = reading.taken_at.isoformat()
    reviewed = session.exec(
        select(ReadingReview.verdict).where(
            ReadingReview.meter_id == reading.meter_id, ReadingReview.taken_at == reading.taken_at
        )
    ).first()
    if reviewed is not None:
        raise Conflict(f"the reading taken at {when} was already reviewed ({reviewed})")
    (point,) = effective_readings(session, reading.meter_id, reading.taken_at, reading.taken_at + _TICK)
    if not point.backwards:
        raise Conflict(f"the reading taken at {when} did not go backwards; there is nothing to review")
    review = ReadingReview(
        meter_id=reading.meter_id,
        taken_at=reading.taken_at,
        verdict=BackwardsVerdict(verdict),
        reason=reason.strip(),
        user_id=user_id,
    )
    session.add(review)
    session.flush()
    return review
