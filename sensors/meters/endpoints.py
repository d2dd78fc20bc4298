"""JSON routes of meters, sensors, readings and alerts: load within the actor's scope, one service call, return."""

import io
from datetime import UTC, date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile, status
from sqlmodel import Session, select

from housing import actors, clock
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor, MeterReaderActor, StaffActor, WatcherActor, require_roles
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Invalid
from housing.registry import queries as registry_queries
from housing.registry.models import Apartment, Building
from housing.routing import Paging, paginate
from housing.schemas import API_PROBLEMS, Page, problems
from housing.validation import Day, Id, Moment
from sensors.meters import queries, service
from sensors.meters.importer import MAX_UPLOAD_BYTES, decode_upload, import_meters_csv
from sensors.meters.queries import VisibleMeter, VisibleSensor
from sensors.meters.schemas import (
    AlertRead,
    CorrectionCreate,
    CorrectionRead,
    MeterCreate,
    MeterDetail,
    MeterImportReport,
    MeterRead,
    MeterReplace,
    MeterReplacement,
    ReadingRead,
    ReadingSubmit,
    RejectedMessageRead,
    ReviewCreate,
    ReviewRead,
    SensorCreate,
    SensorRead,
    StaffReadingCreate,
)
from sensors.models import Alert, AlertKind, Meter, MeterKind, Reading, RejectedMessage, Sensor, SensorKind

router = APIRouter(tags=["meters"], responses=API_PROBLEMS)

# Staff register devices and fix readings; officials only watch; residents read their own meters.


def _detail(session: Session, meter: Meter) -> MeterDetail:
    chain = service.replacement_chain(session, meter)
    position = chain.index(meter.id)
    return MeterDetail.model_validate(meter).model_copy(
        update={"chain": chain, "replaces_id": chain[position - 1] if position else None}
    )


def _placement_in_scope(
    session: Session, actor: Actor, today: date, building_id: int | None, apartment_id: int | None
) -> None:
    """A building or apartment the actor may not see is refused as if it did not exist."""
    if apartment_id is not None:
        query = registry_queries.visible_apartments(actor, today).where(Apartment.id == apartment_id)
        if session.exec(query).first() is None:
            raise Invalid(f"apartment {apartment_id} does not exist", field="apartment_id")
    if building_id is not None:
        query = registry_queries.visible_buildings(actor, today).where(Building.id == building_id)
        if session.exec(query).first() is None:
            raise Invalid(f"building {building_id} does not exist", field="building_id")


# Meters


@router.get("/meters", response_model=Page[MeterRead])
def list_meters(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    building_id: Annotated[Id | None, Query()] = None,
    apartment_id: Annotated[Id | None, Query()] = None,
    kind: Annotated[MeterKind | None, Query()] = None,
    verification_due_before: Annotated[
        Day | None, Query(description="Meters whose next verification falls before this day")
    ] = None,
):
    query = queries.visible_meters(actor, today)
    if building_id is not None:
        query = query.where(Meter.building_id == building_id)
    if apartment_id is not None:
        query = query.where(Meter.apartment_id == apartment_id)
    if kind is not None:
        query = query.where(Meter.kind == kind)
    if verification_due_before is not None:
        query = query.where(Meter.verification_due < verification_due_before)
    page = paginate(session, query, paging, Meter.id)
    replaced = service.predecessors(session, [m.id for m in page["items"]])
    page["items"] = [
        MeterRead.model_validate(m).model_copy(update={"replaces_id": replaced.get(m.id)})
        for m in page["items"]
    ]
    return page


@router.post("/meters", response_model=MeterDetail, status_code=status.HTTP_201_CREATED)
def register_meter(body: MeterCreate, session: SessionDep, actor: StaffActor, today: Today):
    _placement_in_scope(session, actor, today, body.building_id, body.apartment_id)
    return _detail(session, service.register_meter(session, **body.model_dump()))


@router.get("/meters/{meter_id}", response_model=MeterDetail)
def read_meter(meter: VisibleMeter, session: SessionDep):
    return _detail(session, meter)


@router.post(
    "/meters/{meter_id}/replace",
    response_model=MeterReplacement,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_roles(actors.STAFF))],
)
def replace_meter(meter: VisibleMeter, body: MeterReplace, session: SessionDep, today: Today):
    """Closes the meter with its final value and registers the new one in its place."""
    new = service.replace_meter(session, meter, today=today, **body.model_dump())
    return MeterReplacement(old=_detail(session, meter), new=_detail(session, new))


# Readings


@router.get("/meters/{meter_id}/readings", response_model=Page[ReadingRead])
def list_readings(meter: VisibleMeter, session: SessionDep, paging: Paging):
    """Newest first, each with its effective value, newest correction, review and backwards flag."""
    page = paginate(
        session, select(Reading).where(Reading.meter_id == meter.id), paging, Reading.taken_at.desc()
    )
    page["items"] = service.reading_details(session, meter.id, page["items"])
    return page


@router.post("/meters/{meter_id}/readings", response_model=ReadingRead, status_code=status.HTTP_201_CREATED)
def submit_reading(
    actor: MeterReaderActor,
    meter: VisibleMeter,
    body: ReadingSubmit,
    session: SessionDep,
    settings: SettingsDep,
):
    """A reading read by hand now. Residents: their own meters read by hand, inside the monthly window."""
    reading = service.submit_reading(
        session,
        meter,
        value=body.value,
        now=clock.local_now(settings.timezone).astimezone(UTC),
        timezone=settings.timezone,
        by_resident=actor.role == Role.resident,
        window=(settings.meters.window_start_day, settings.meters.window_end_day),
    )
    return service.reading_details(session, meter.id, [reading])[0]


@router.post(
    "/meters/{meter_id}/staff-readings",
    response_model=ReadingRead,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The meter already has a reading at that time: correct it instead"}},
)
def enter_staff_reading(
    actor: StaffActor,
    meter: VisibleMeter,
    body: StaffReadingCreate,
    session: SessionDep,
    settings: SettingsDep,
):
    """A dated reading entered by staff with a reason (a paper reading, a back-fill), source `staff`.

    Not in the future, not before the meter's installation nor after its removal, and not
    where the meter already has a reading. Stored and flagged like any reading if it goes
    backwards; consumption counts it like a reading the meter sent.
    """
    reading = service.enter_staff_reading(
        session,
        meter,
        taken_at=body.taken_at,
        value=body.value,
        reason=body.reason,
        user_id=actor.user_id,
        now=clock.local_now(settings.timezone).astimezone(UTC),
        timezone=settings.timezone,
    )
    return service.reading_details(session, meter.id, [reading])[0]


@router.post(
    "/meters/{meter_id}/readings/{taken_at}/corrections",
    response_model=CorrectionRead,
    status_code=status.HTTP_201_CREATED,
)
def correct_reading(
    actor: StaffActor,
    meter_id: Id,
    taken_at: Moment,
    body: CorrectionCreate,
    session: SessionDep,
    today: Today,
):
    """Supersedes the reading's value with the reason kept; the reading itself is not changed."""
    meter = queries.visible_meter(session, actor, today, meter_id)  # after taken_at: 422 before 404
    reading = service.get_reading(session, meter.id, taken_at)
    return service.correct_reading(
        session, reading, value=body.value, reason=body.reason, user_id=actor.user_id
    )


@router.post(
    "/meters/{meter_id}/readings/{taken_at}/review",
    response_model=ReviewRead,
    status_code=status.HTTP_201_CREATED,
)
def review_reading(
    actor: StaffActor,
    meter_id: Id,
    taken_at: Moment,
    body: ReviewCreate,
    session: SessionDep,
    today: Today,
):
    """Staff's verdict on a reading that went backwards: rollover or replacement makes it count."""
    meter = queries.visible_meter(session, actor, today, meter_id)  # after taken_at: 422 before 404
    reading = service.get_reading(session, meter.id, taken_at)
    return service.review_reading(
        session, reading, verdict=body.verdict, reason=body.reason, user_id=actor.user_id
    )


# Condition sensors


@router.get("/sensors", response_model=Page[SensorRead])
def list_sensors(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    building_id: Annotated[Id | None, Query()] = None,
    apartment_id: Annotated[Id | None, Query()] = None,
    kind: Annotated[SensorKind | None, Query()] = None,
):
    query = queries.visible_sensors(actor, today)
    if building_id is not None:
        query = query.where(Sensor.building_id == building_id)
    if apartment_id is not None:
        query = query.where(Sensor.apartment_id == apartment_id)
    if kind is not None:
        query = query.where(Sensor.kind == kind)
    return paginate(session, query, paging, Sensor.id)


@router.get("/sensors/{sensor_id}", response_model=SensorRead)
def read_sensor(sensor: VisibleSensor):
    return sensor


@router.post("/sensors", response_model=SensorRead, status_code=status.HTTP_201_CREATED)
def register_sensor(body: SensorCreate, session: SessionDep, actor: StaffActor, today: Today):
    _placement_in_scope(session, actor, today, body.building_id, body.apartment_id)
    return service.register_sensor(session, **body.model_dump())


# Alerts and rejected device messages


@router.get("/alerts", response_model=Page[AlertRead])
def list_alerts(
    session: SessionDep,
    actor: WatcherActor,
    today: Today,
    paging: Paging,
    state: Annotated[Literal["open", "closed", "all"], Query(description="open by default")] = "open",
    kind: Annotated[AlertKind | None, Query()] = None,
    building_id: Annotated[Id | None, Query()] = None,
    meter_id: Annotated[Id | None, Query()] = None,
):
    """Alerts of the meters the actor sees, newest first."""
    query = queries.visible_alerts(actor, today).order_by(Alert.opened_at.desc())
    if state == "open":
        query = query.where(Alert.closed_at.is_(None))
    elif state == "closed":
        query = query.where(Alert.closed_at.is_not(None))
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if building_id is not None:
        query = query.where(Meter.building_id == building_id)
    if meter_id is not None:
        query = query.where(Alert.meter_id == meter_id)
    page = paginate(session, query, paging, Alert.id.desc())
    meters = {
        m.id: m for m in session.exec(select(Meter).where(Meter.id.in_({a.meter_id for a in page["items"]})))
    }
    page["items"] = [
        AlertRead(
            id=a.id,
            meter_id=a.meter_id,
            serial=meters[a.meter_id].serial,
            building_id=meters[a.meter_id].building_id,
            apartment_id=meters[a.meter_id].apartment_id,
            kind=a.kind,
            opened_at=a.opened_at,
            closed_at=a.closed_at,
            detail=a.detail,
        )
        for a in page["items"]
    ]
    return page


@router.get(
    "/rejected-messages",
    response_model=Page[RejectedMessageRead],
    dependencies=[Depends(require_roles(actors.ADMINS))],
)
def list_rejected_messages(session: SessionDep, paging: Paging):
    """Device messages that could not become readings, newest first, with the reason."""
    query = select(RejectedMessage).order_by(RejectedMessage.received_at.desc())
    page = paginate(session, query, paging, RejectedMessage.id.desc())
    page["items"] = [
        RejectedMessageRead(
            id=m.id,
            topic=m.topic,
            payload=bytes(m.payload).decode("utf-8", errors="replace"),
            reason=m.reason,
            received_at=m.received_at,
        )
        for m in page["items"]
    ]
    return page


# Bulk registration


@router.post(
    "/imports/meters",
    response_model=MeterImportReport,
    status_code=status.HTTP_201_CREATED,
    summary="Register meters and sensors from CSV",
    responses=problems(
        422, why={422: "The file has bad rows; `errors` lists each with its line; nothing imported"}
    ),
)
def import_meters(
    file: Annotated[UploadFile, File(description="CSV, UTF-8, one row per meter or sensor")],
    session: SessionDep,
    actor: StaffActor,
    today: Today,
) -> MeterImportReport:
    """A file with any bad row imports nothing and lists every bad row with its line and reason."""
    text = decode_upload(file.file.read(MAX_UPLOAD_BYTES + 1))
    return import_meters_csv(session, io.StringIO(text, newline=""), actor=actor, today=today)
