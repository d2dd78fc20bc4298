"""Open311 GeoReport v2 routes under /open311/v2: the format is the path's extension.

Reads are public (no key): they show only what schemas.request_dict lets out. Filing
needs an api_key; the request is filed under the key's user.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, status
from fastapi.responses import Response

from housing.db import SessionDep
from housing.deps import Now, SettingsDep
from housing.errors import NotFound
from housing.open311 import formats, queries, schemas, service
from housing.open311.responses import ERRORS, documented, respond
from housing.requests.models import RequestCategory
from housing.settings import Settings
from housing.validation import Text, parse_id

PREFIX = "/open311/v2"

router = APIRouter(tags=["open311"], responses=ERRORS, default_response_class=Response)


def _format(fmt: Text) -> str:
    if fmt not in formats.FORMATS:
        raise NotFound(f"format {fmt!r} is not served; use json or xml")
    return fmt


Format = Annotated[str, Depends(_format)]


def _check_jurisdiction(settings: Settings, jurisdiction_id: str | None) -> None:
    # One city, one jurisdiction: leaving it out is fine, naming another one is not.
    if jurisdiction_id and jurisdiction_id != settings.open311.jurisdiction_id:
        raise NotFound(
            f"jurisdiction_id {jurisdiction_id!r} not found; this server is {settings.open311.jurisdiction_id!r}"
        )


def _jurisdiction(settings: SettingsDep, jurisdiction_id: Annotated[Text | None, Query()] = None) -> None:
    _check_jurisdiction(settings, jurisdiction_id)


Jurisdiction = Depends(_jurisdiction)


@router.get("/services.{fmt}", dependencies=[Jurisdiction], responses=documented())
def list_services(fmt: Format, session: SessionDep, settings: SettingsDep) -> Response:
    emergency = settings.requests.emergency_deadline
    services = [schemas.service_dict(category, emergency) for category in queries.public_services(session)]
    return respond(fmt, "services", services)


@router.get(
    "/services/{service_code}.{fmt}",
    dependencies=[Jurisdiction],
    responses=documented(json_schema={"type": "object"}),
)
def service_definition(service_code: Text, fmt: Format, session: SessionDep) -> Response:
    category = queries.public_service(session, service_code)
    if category is None:
        raise NotFound(f"service_code {service_code!r} not found")
    return respond(fmt, "service_definition", schemas.definition_dict(category))


@router.get("/requests.{fmt}", dependencies=[Jurisdiction], responses=documented())
def list_requests(
    fmt: Format,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    service_request_id: Annotated[
        Text | None, Query(description="Comma separated; overrides the rest")
    ] = None,
    service_code: Annotated[Text | None, Query(description="Comma separated")] = None,
    start_date: Annotated[Text | None, Query(description="w3 datetime with offset")] = None,
    end_date: Annotated[Text | None, Query(description="w3 datetime with offset")] = None,
    status_: Annotated[Text | None, Query(alias="status", description="open, closed")] = None,
) -> Response:
    filters = schemas.filters_from(
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status_,
        now=now,
    )
    rows = queries.public_requests(session, filters)
    return respond(
        fmt,
        "service_requests",
        [schemas.request_dict(*row, settings.timezone, settings.requests.emergency_deadline) for row in rows],
    )


@router.get("/requests/{service_request_id}.{fmt}", dependencies=[Jurisdiction], responses=documented())
def read_request(
    service_request_id: Text, fmt: Format, session: SessionDep, settings: SettingsDep
) -> Response:
    id_ = parse_id(service_request_id)
    row = queries.public_request(session, id_) if id_ is not None else None
    if row is None:
        raise NotFound(f"service_request_id {service_request_id!r} not found")
    # One request is still a list of one, as the spec shows it.
    return respond(
        fmt,
        "service_requests",
        [schemas.request_dict(*row, settings.timezone, settings.requests.emergency_deadline)],
    )


@router.post("/requests.{fmt}", status_code=status.HTTP_201_CREATED, responses=documented(201))
def create_request(
    fmt: Format,
    form: Annotated[schemas.RequestForm, Form()],
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
) -> Response:
    filer = service.key_user(session, form.api_key)
    _check_jurisdiction(settings, form.jurisdiction_id)
    request = service.file_open311_request(
        session,
        filer=filer,
        filing=schemas.filing_from(form),
        now=now,
        timezone=settings.timezone,
        daily_limit=settings.requests.daily_limit,
        radius_m=settings.open311.nearest_building_m,
        emergency_deadline=settings.requests.emergency_deadline,
    )
    category = session.get(RequestCategory, request.category_id)
    return respond(
        fmt,
        "service_requests",
        [schemas.created_dict(request, category, settings.requests.emergency_deadline)],
        status_code=status.HTTP_201_CREATED,
    )
