"""Meters and condition sensors from one CSV file, in the buildings the importing actor may see.

Nothing is written unless every row is right: the whole file is checked first and every
problem is reported with its physical line number; then every device goes through the
sensors service, so the rules are those of the API. The columns: docs/import-format.md.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TextIO

from pydantic import ValidationError, model_validator
from sqlalchemy import Select
from sqlmodel import Session, select

from housing import csvfile
from housing.actors import Actor
from housing.csvfile import CsvRow, ImportRejected, ImportRowError, read_rows, row_error
from housing.errors import DomainError
from housing.registry.models import Apartment, Building, District
from housing.registry.queries import visible_buildings
from sensors.meters import service
from sensors.meters.schemas import MeterCreate, MeterImportReport, SensorCreate
from sensors.models import Meter, MeterKind, Sensor, SensorKind

MAX_ROWS = 100_000
MAX_UPLOAD_BYTES = 16 * 1024 * 1024

REQUIRED_COLUMNS = ("serial", "kind", "installed_on")
OPTIONAL_COLUMNS = (
    "building_id",
    "address",
    "district",
    "apartment",
    "verification_due",
    "initial_value",
    "smart",
    "digits",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
METER_ONLY = ("verification_due", "initial_value", "smart", "digits")
METER_KINDS = tuple(k.value for k in MeterKind)
SENSOR_KINDS = tuple(k.value for k in SensorKind)
_TRUE = {"yes", "true", "1", "y", "ha"}
_FALSE = {"no", "false", "0", "n", "yo'q", "yoq"}
_CHUNK = 500


# The API's own models; the placement comes from the file's names, so its check waits.


class _MeterColumns(MeterCreate):
    @model_validator(mode="after")
    def somewhere(self):
        return self


class _SensorColumns(SensorCreate):
    @model_validator(mode="after")
    def somewhere(self):
        return self


@dataclass
class _Row(CsvRow):
    device: dict[str, Any] | None = None
    is_meter: bool = True
    building: Building | None = None


def decode_upload(data: bytes) -> str:
    """The uploaded file as text, or Invalid: too large, or not UTF-8."""
    return csvfile.decode_upload(data, MAX_UPLOAD_BYTES)


def import_meters_csv(session: Session, stream: TextIO, *, actor: Actor, today: date) -> MeterImportReport:
    """Checks the whole file, then registers its meters and sensors.

    Raises ImportRejected listing every bad row, before anything is written. Flushes,
    never commits: the caller's transaction holds all of it or none of it.
    """
    rows = read_rows(
        stream,
        row_type=_Row,
        columns=COLUMNS,
        required=REQUIRED_COLUMNS,
        max_rows=MAX_ROWS,
        decimal_columns=("initial_value",),
        check_header=_check_header,
    )
    errors: list[ImportRowError] = []
    for row in rows:
        errors += _parse(row)
    errors += _place(session, rows, visible_buildings(actor, today))
    errors += _check_serials(session, rows)
    if errors:
        raise ImportRejected(errors)
    return _write(session, rows)


# Reading


def _check_header(names: list[str]) -> list[ImportRowError]:
    """A device is placed by building id or by address, so the file needs one of the two."""
    if "building_id" not in names and "address" not in names:
        return [row_error(1, "building_id", "give a building_id or an address column")]
    return []


# Checking one row on its own


def _parse(row: _Row) -> list[ImportRowError]:
    cells = row.cells
    errors: list[ImportRowError] = []
    if row.extra:
        errors.append(row_error(row.line, None, f"cells outside the named columns: {row.extra}"))
    kind = (cells.get("kind") or "").lower()
    if kind in SENSOR_KINDS:
        row.is_meter = False
        errors += [
            row_error(row.line, n, f"applies to meters only, not to a {kind} sensor")
            for n in METER_ONLY
            if cells.get(n) is not None
        ]
    elif kind not in METER_KINDS:
        reason = "a value is required" if not kind else f"unknown kind {cells['kind']!r}"
        errors.append(
            row_error(row.line, "kind", f"{reason}; one of {', '.join(METER_KINDS + SENSOR_KINDS)}")
        )
        return errors
    if cells.get("building_id") is None and cells.get("address") is None:
        errors.append(row_error(row.line, "address", "give the building's address or its building_id"))
    data: dict[str, Any] = {
        name: cells[name]
        for name in ("serial", "installed_on", "building_id", *(METER_ONLY if row.is_meter else ()))
        if cells.get(name) is not None
    }
    data["kind"] = kind
    if row.is_meter and "smart" in data:
        smart = data["smart"].lower()
        if smart not in _TRUE | _FALSE:
            errors.append(row_error(row.line, "smart", f"write yes or no (got {data['smart']!r})"))
            del data["smart"]
        else:
            data["smart"] = smart in _TRUE
    model = _MeterColumns if row.is_meter else _SensorColumns
    try:
        valid = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else None
            if name is None:  # a check across fields names the one to fix first
                name = min((c for c in COLUMNS if c in err["msg"]), key=err["msg"].find, default=None)
            if err["type"] == "missing":
                reason = "a value is required"
            else:
                reason = err["msg"].removeprefix("Value error, ")
                if isinstance(err.get("input"), str):
                    reason += f" (got {err['input']!r})"
            errors.append(row_error(row.line, name, reason))
        return errors
    row.device = valid.model_dump(exclude={"apartment_id"})
    return errors


# Checking rows against each other and against the register


def _normal(text: str) -> str:
    """Addresses and district names as people type them: any case, any apostrophe, any spacing."""
    return " ".join(re.sub("[\u02bb\u02bc\u2018\u2019`\u00b4]", "'", text).casefold().split())


def _place(session: Session, rows: list[_Row], visible: Select) -> list[ImportRowError]:
    """Finds each row's building among those the actor sees, and its apartment in that building."""
    errors: list[ImportRowError] = []
    placed = [r for r in rows if r.device is not None]
    ids = {r.device["building_id"] for r in placed if r.device.get("building_id") is not None}
    addresses = {" ".join(r.cells["address"].split()) for r in placed if r.cells.get("address")}
    by_id = {b.id: b for b in _in_chunks(session, visible, Building.id, ids)}
    by_address: dict[str, list[tuple[Building, str]]] = {}
    district_query = (
        select(Building, District.name)
        .join(District, District.id == Building.district_id)
        .where(Building.id.in_(visible.with_only_columns(Building.id)))
    )
    for building, district in _in_chunks(session, district_query, Building.address, addresses):
        by_address.setdefault(_normal(building.address), []).append((building, district))

    for row in placed:
        building_id, address = row.device.get("building_id"), row.cells.get("address")
        district = row.cells.get("district")
        found = by_id.get(building_id) if building_id is not None else None
        if building_id is not None and found is None:
            errors.append(row_error(row.line, "building_id", f"building {building_id} does not exist"))
            continue
        if address is not None:
            matches = by_address.get(_normal(address), [])
            if district is not None:
                matches = [(b, d) for b, d in matches if _normal(d) == _normal(district)]
            if found is not None:
                if found.id not in {b.id for b, _ in matches}:
                    errors.append(
                        row_error(
                            row.line,
                            "address",
                            f"building {found.id} is at {found.address!r}, not {address!r}",
                        )
                    )
                    continue
            elif not matches:
                where = f" in {district}" if district else ""
                errors.append(row_error(row.line, "address", f"no building at {address!r}{where}"))
                continue
            elif len(matches) > 1:
                districts = ", ".join(sorted(d for _, d in matches))
                errors.append(
                    row_error(
                        row.line,
                        "district",
                        f"{address!r} is an address in several districts ({districts}); name the district",
                    )
                )
                continue
            else:
                found = matches[0][0]
        row.building = found
        row.device["building_id"] = found.id

    numbered = [r for r in rows if r.building is not None and r.cells.get("apartment") is not None]
    apartments = {
        (a.building_id, a.number): a.id
        for a in _in_chunks(
            session, select(Apartment), Apartment.building_id, {r.building.id for r in numbered}
        )
    }
    for row in numbered:
        number = row.cells["apartment"]
        apartment_id = apartments.get((row.building.id, number))
        if apartment_id is None:
            errors.append(
                row_error(
                    row.line, "apartment", f"building {row.building.address!r} has no apartment {number!r}"
                )
            )
            continue
        row.device["apartment_id"] = apartment_id
    return errors


def _check_serials(session: Session, rows: list[_Row]) -> list[ImportRowError]:
    errors: list[ImportRowError] = []
    for is_meter, model, what in ((True, Meter, "meter"), (False, Sensor, "sensor")):
        mine = [r for r in rows if r.device is not None and r.is_meter is is_meter]
        taken = set(
            _in_chunks(session, select(model.serial), model.serial, {r.device["serial"] for r in mine})
        )
        first_of: dict[str, int] = {}
        for row in mine:
            serial = row.device["serial"]
            if serial in first_of:
                errors.append(
                    row_error(row.line, "serial", f"{serial!r} is also the serial at line {first_of[serial]}")
                )
                continue
            first_of[serial] = row.line
            if serial in taken:
                errors.append(
                    row_error(row.line, "serial", f"a {what} with serial {serial!r} is already registered")
                )
    return errors


def _in_chunks(session: Session, query: Select, column: Any, values: Iterable[Any]) -> Iterator[Any]:
    values = sorted(set(values), key=str)
    for start in range(0, len(values), _CHUNK):
        yield from session.exec(query.where(column.in_(values[start : start + _CHUNK])))


# Writing, once the whole file is known to be right


def _write(session: Session, rows: list[_Row]) -> MeterImportReport:
    report = MeterImportReport(meters=0, sensors=0)
    row: _Row | None = None
    try:
        for row in rows:
            if row.is_meter:
                service.register_meter(session, **row.device)
                report.meters += 1
            else:
                service.register_sensor(session, **row.device)
                report.sensors += 1
    except DomainError as exc:  # the file was checked, so only a concurrent change gets here
        line = row.line if row is not None else 1
        raise ImportRejected([row_error(line, exc.field, exc.detail)]) from exc
    return report
