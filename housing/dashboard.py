"""What the city dashboard's pages share: their filter fields, the filter lists, paging, CSV.

The pages are for officials and admins (`CityActor`): a resident or a company's staff
gets 403. Filters are GET forms, so an empty choice arrives as an empty string ("all
districts"); `OptionalId` reads that as no filter instead of refusing it. Every list has a
CSV twin at the same path with `.csv` that takes the same filters and exports the rows
they select (all pages of the list), at most EXPORT_ROWS a file: a larger export comes in
parts, `?page=2` and on, each answer naming the next in a `Link: <...>; rel="next"` header.
"""

import math
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel import Session

from housing import clock
from housing.errors import Invalid
from housing.registry.models import District, ManagementCompany
from housing.validation import INT32_MAX, Text, parse_id

PAGE_SIZE = 100
EXPORT_ROWS = 5_000  # rows of one CSV file at most, about 1 MB


def _optional_id(name: str):
    def read(value: Annotated[Text | None, Query(alias=name, max_length=12)] = None) -> int | None:
        if value is None or value.strip() == "":
            return None
        id_ = parse_id(value)
        if id_ is None:
            raise Invalid(f"{name} must be a number from 1 to {INT32_MAX}", field=name)
        return id_

    return read


DistrictId = Annotated[int | None, Depends(_optional_id("district_id"))]
CompanyId = Annotated[int | None, Depends(_optional_id("company_id"))]


def _optional_month(name: str):
    def read(
        value: Annotated[Text | None, Query(alias=name, max_length=7, description="YYYY-MM")] = None,
    ) -> date | None:
        if value is None or value.strip() == "":
            return None
        try:
            return clock.parse_period(value.strip())
        except ValueError as exc:
            raise Invalid(str(exc), field=name) from exc

    return read


OptionalPeriod = Annotated[date | None, Depends(_optional_month("period"))]
OptionalUntil = Annotated[date | None, Depends(_optional_month("until"))]
PageNumber = Annotated[int, Query(ge=1, le=100_000, description="Page of the list, from 1")]


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def first_row(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_row(self) -> int:
        return min(self.offset + self.size, self.total)


def districts(session: Session) -> list[tuple[int, str]]:
    """Every district for the filter, by name (a dozen rows)."""
    return [tuple(row) for row in session.execute(select(District.id, District.name).order_by(District.name))]


def companies(session: Session, district_id: int | None = None) -> list[tuple[int, str]]:
    """The companies for the filter, by name; only the district's own when one is chosen."""
    query = select(ManagementCompany.id, ManagementCompany.name).order_by(
        ManagementCompany.name, ManagementCompany.id
    )
    if district_id is not None:
        query = query.where(ManagementCompany.district_id == district_id)
    return [tuple(row) for row in session.execute(query)]


def query_string(**params: object) -> str:
    """The filters as a URL query, leaving out the empty ones: for the CSV and paging links."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return urlencode(kept)


def csv_response(body: str, filename: str, next_url: str | None = None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if next_url is not None:
        headers["Link"] = f'<{next_url}>; rel="next"'
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def export_part(page: int) -> dict[str, int]:
    """The rows of an export's part `page` (from 1): limit and offset."""
    return {"limit": EXPORT_ROWS, "offset": (page - 1) * EXPORT_ROWS}


def next_export(path: str, filters: str, page: int, total: int) -> str | None:
    """The URL of an export's next part, or None when this part holds the last row."""
    if page * EXPORT_ROWS >= total:
        return None
    return f"{path}?{filters}{'&' if filters else ''}page={page + 1}"
