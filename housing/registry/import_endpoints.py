"""Bulk import of a company's register from an uploaded CSV file (format: docs/import-format.md)."""

import io
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import RegistrarActor
from housing.csvfile import decode_upload
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import Forbidden, Invalid
from housing.registry.importer import import_buildings_csv
from housing.registry.models import ManagementCompany
from housing.registry.schemas import ImportReport
from housing.schemas import API_PROBLEMS, problems
from housing.validation import Id

MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # about 200,000 rows; the importer stops at 100,000

router = APIRouter(tags=["registry"], responses=API_PROBLEMS)


@router.post(
    "/imports/buildings",
    response_model=ImportReport,
    status_code=status.HTTP_201_CREATED,
    summary="Import buildings, apartments, owners and shares from CSV",
    responses=problems(
        422, why={422: "The file has bad rows; `errors` lists each with its line; nothing imported"}
    ),
)
def import_buildings(
    file: Annotated[UploadFile, File(description="CSV, UTF-8, one row per apartment and owner")],
    session: SessionDep,
    actor: RegistrarActor,
    today: Today,
    company_id: Annotated[
        Id | None, Form(description="Managing company; required for an admin, a manager's own by default")
    ] = None,
) -> ImportReport:
    """A file with any bad row imports nothing and lists every bad row with its line and reason."""
    company_id = _importing_company(actor, company_id)
    if session.get(ManagementCompany, company_id) is None:
        raise Invalid(f"company {company_id} does not exist", field="company_id")
    text = decode_upload(file.file.read(MAX_UPLOAD_BYTES + 1), MAX_UPLOAD_BYTES)
    stream = io.StringIO(text, newline="")
    return import_buildings_csv(session, stream, company_id=company_id, today=today)


def _importing_company(actor: Actor, company_id: int | None) -> int:
    """Managers import for their own company; admins name the company."""
    if actor.role == Role.manager:
        if company_id not in (None, actor.company_id):
            raise Forbidden("a manager imports buildings for their own company only")
        return actor.company_id
    if company_id is None:
        raise Invalid("company_id is required", field="company_id")
    return company_id
