"""GeoReport v2 shapes: our rows as the spec's dicts, and the spec's inputs as ours.

Pure: no database, no clock. Only public facts leave here: a request's building (its
address and coordinates), category, company, description and timeline. The apartment,
the resident and whoever filed it never do.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field

from housing.errors import Invalid
from housing.registry.models import Building, ManagementCompany
from housing.requests.deadlines import EMERGENCY_DEADLINE, allowed_time
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from housing.validation import INT32_MAX, InputModel, check_year, parse_id

S = RequestStatus

# GeoReport knows two statuses; ours say more, and status_notes carries the rest.
OPEN311_STATUS: dict[RequestStatus, str] = {
    S.new: "open",
    S.accepted: "open",
    S.in_progress: "open",
    S.deferred: "open",
    S.reopened: "open",
    S.resolved: "closed",
    S.closed: "closed",
    S.rejected: "closed",
}
STATUS_NOTES: dict[RequestStatus, str] = {
    S.new: "Received; waiting for the management company to accept it",
    S.accepted: "Accepted by the management company",
    S.in_progress: "Work in progress",
    S.deferred: "Deferred to a later date",
    S.reopened: "Reopened by the resident: the problem came back",
    S.resolved: "Resolved by the management company",
    S.closed: "Closed",
    S.rejected: "Rejected by the management company",
}

# The spec's default window for a list, and the longest one a client may ask for.
MAX_SPAN = timedelta(days=90)
# The one attribute a service defines: the resident's own judgement that it cannot wait.
EMERGENCY_ATTRIBUTE = "emergency"
EMERGENCY_VALUES = {"yes": True, "no": False}


def open311_status(status: RequestStatus) -> str:
    return OPEN311_STATUS[RequestStatus(status)]


def our_statuses(name: str) -> set[RequestStatus]:
    """Ours behind one of GeoReport's: open or closed."""
    return {ours for ours, theirs in OPEN311_STATUS.items() if theirs == name}


def w3_datetime(moment: datetime | None, timezone: str) -> str | None:
    """The spec's w3 format with the city's offset, e.g. 2026-11-17T10:00:00+05:00."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def parse_w3_datetime(text: str, field: str) -> datetime:
    """A w3 datetime must carry its offset (or Z): a bare local time is ambiguous."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise Invalid(
            f"{field} must be a w3 datetime such as 2026-11-01T00:00:00+05:00", field=field
        ) from exc
    if moment.tzinfo is None:
        raise Invalid(f"{field} needs a time zone offset, e.g. +05:00 or Z", field=field)
    try:
        return check_year(moment)
    except ValueError as exc:
        raise Invalid(f"{field}: {exc}", field=field) from exc


def _duration(minutes: int) -> str:
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("every whole number of minutes divides by 1")


def service_notice(
    category: RequestCategory, emergency: bool, emergency_deadline: timedelta = EMERGENCY_DEADLINE
) -> str:
    """The promise in words; an emergency's is the tighter of its category's and `emergency_deadline`."""
    if emergency:
        allowed = allowed_time(
            category_minutes=category.deadline_minutes, emergency=True, emergency_deadline=emergency_deadline
        )
        minutes = int(allowed.total_seconds() // 60)
        return f"Emergency: the management company must contain it within {_duration(minutes)}"
    return f"The management company must resolve it within {_duration(category.deadline_minutes)}"


# Services


def service_dict(
    category: RequestCategory, emergency_deadline: timedelta = EMERGENCY_DEADLINE
) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": service_notice(category, category.emergency, emergency_deadline),
        # Every service has a definition: the emergency attribute below.
        "metadata": True,
        # A request is filed while the client waits, so it gets its id at once.
        "type": "realtime",
        "keywords": "emergency" if category.emergency else "",
        "group": "Emergencies" if category.emergency else "Building maintenance",
    }


def definition_dict(category: RequestCategory) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": EMERGENCY_ATTRIBUTE,
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "yes or no; left out, the category decides",
                "order": 1,
                "description": "Is it an emergency: a burst pipe, no power, a smell of gas?",
                "values": [
                    {"key": "yes", "name": "Yes, it is an emergency"},
                    {"key": "no", "name": "No"},
                ],
            }
        ],
    }


# Requests


def request_dict(
    request: ServiceRequest,
    category: RequestCategory,
    building: Building,
    company: ManagementCompany,
    timezone: str,
    emergency_deadline: timedelta = EMERGENCY_DEADLINE,
) -> dict[str, Any]:
    status = RequestStatus(request.status)
    is_open = open311_status(status) == "open"
    notes = STATUS_NOTES[status]
    if is_open and request.overdue:
        notes += "; overdue"
    return {
        "service_request_id": str(request.id),
        "status": open311_status(status),
        "status_notes": notes,
        "service_name": category.name,
        "service_code": category.code,
        "description": request.description,
        "agency_responsible": company.name,
        "service_notice": service_notice(category, request.emergency, emergency_deadline),
        "requested_datetime": w3_datetime(request.created_at, timezone),
        "updated_datetime": w3_datetime(request.updated_at, timezone),
        # The deadline is what the company promised; once closed nothing more is expected.
        "expected_datetime": w3_datetime(request.deadline_at, timezone) if is_open else None,
        # The building, never the apartment: a list is public.
        "address": building.address,
        "address_id": str(building.id),
        "zipcode": None,
        "lat": building.latitude,
        "long": building.longitude,
        # Photos are shown only to the people on the request, so there is no public URL.
        "media_url": None,
    }


def created_dict(
    request: ServiceRequest, category: RequestCategory, emergency_deadline: timedelta = EMERGENCY_DEADLINE
) -> dict[str, Any]:
    # No account is made for the person reporting; the request is filed under the key's user.
    return {
        "service_request_id": str(request.id),
        "service_notice": service_notice(category, request.emergency, emergency_deadline),
        "account_id": None,
    }


# Inputs


class RequestForm(InputModel):
    """POST requests.{format}, form-encoded, every field as the client sent it.

    All text, checked by filing_from after the api_key: a client without a valid key
    learns nothing about its input. Contact details are accepted and not stored: a public
    key cannot vouch for who a person is, and a list must not show them.
    """

    model_config = ConfigDict(populate_by_name=True)

    api_key: str | None = None
    jurisdiction_id: str | None = None
    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    emergency: Annotated[str | None, Field(alias=f"attribute[{EMERGENCY_ATTRIBUTE}]")] = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    media_url: str | None = None


@dataclass(frozen=True)
class Place:
    """Where the citizen says the problem is: our building id, a point, or an address."""

    address_id: int | None = None
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None


@dataclass(frozen=True)
class Filing:
    service_code: str
    place: Place
    description: str
    emergency: bool | None


# The same bounds as the JSON API's RequestCreate.description.
DESCRIPTION_LENGTH = (5, 2000)
ADDRESS_LENGTH = 300  # Building.address


def _coordinate(text: str | None, field: str, bound: float) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise Invalid(f"{field} must be a number in WGS84 degrees", field=field) from exc
    if not -bound <= value <= bound:
        raise Invalid(f"{field} must be between -{bound:g} and {bound:g}", field=field)
    return value


def _place(form: RequestForm) -> Place:
    lat = _coordinate(form.lat, "lat", 90)
    long = _coordinate(form.long, "long", 180)
    if (lat is None) != (long is None):
        raise Invalid("lat and long go together", field="lat" if lat is None else "long")
    address_id = None
    if form.address_id and form.address_id.strip():
        address_id = parse_id(form.address_id)
        if address_id is None:
            raise Invalid(f"address_id {form.address_id!r} is not one of ours", field="address_id")
    address = " ".join((form.address_string or "").split()) or None
    if address is not None and len(address) > ADDRESS_LENGTH:
        raise Invalid(f"address_string is longer than {ADDRESS_LENGTH} characters", field="address_string")
    if address_id is None and lat is None and address is None:
        raise Invalid("say where: lat and long, address_string or address_id", field="lat")
    return Place(address_id=address_id, lat=lat, long=long, address_string=address)


def filing_from(form: RequestForm) -> Filing:
    """The checks of a new request's input; the request rules themselves are the service's."""
    if not form.service_code or not form.service_code.strip():
        raise Invalid("service_code is required", field="service_code")
    place = _place(form)
    description = (form.description or "").strip()
    shortest, longest = DESCRIPTION_LENGTH
    if not description:
        raise Invalid("description is required: what is wrong?", field="description")
    if not shortest <= len(description) <= longest:
        raise Invalid(f"description must have {shortest} to {longest} characters", field="description")
    emergency = None
    if form.emergency is not None and form.emergency.strip():
        if form.emergency.strip() not in EMERGENCY_VALUES:
            raise Invalid(
                f"attribute[{EMERGENCY_ATTRIBUTE}] must be yes or no",
                field=f"attribute[{EMERGENCY_ATTRIBUTE}]",
            )
        emergency = EMERGENCY_VALUES[form.emergency.strip()]
    return Filing(
        service_code=form.service_code.strip(), place=place, description=description, emergency=emergency
    )


@dataclass(frozen=True)
class RequestFilters:
    """A list's filters. Ids, when given, override the rest (the spec says so)."""

    ids: tuple[int, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: frozenset[RequestStatus] = frozenset()
    start: datetime | None = None
    end: datetime | None = None


def _comma_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def filters_from(
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
    now: datetime,
) -> RequestFilters:
    ids = _comma_list(service_request_id)
    if ids:
        parsed = [parse_id(part) for part in ids]
        if None in parsed:
            raise Invalid(
                f"service_request_id takes numbers from 1 to {INT32_MAX}, comma separated",
                field="service_request_id",
            )
        return RequestFilters(ids=tuple(parsed))
    wanted: set[RequestStatus] = set()
    for name in _comma_list(status):
        if name not in ("open", "closed"):
            raise Invalid(f"status must be open or closed, not {name!r}", field="status")
        wanted |= our_statuses(name)
    start = parse_w3_datetime(start_date, "start_date") if start_date else None
    end = parse_w3_datetime(end_date, "end_date") if end_date else None
    # The spec's default: the most recent 90 days, or 90 days from the one bound given.
    if start is None and end is None:
        end = now
    if start is None:
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if start > end:
        raise Invalid("start_date is after end_date", field="start_date")
    if end - start > MAX_SPAN:
        raise Invalid("start_date and end_date may not span more than 90 days", field="end_date")
    return RequestFilters(
        service_codes=tuple(_comma_list(service_code)), statuses=frozenset(wanted), start=start, end=end
    )
