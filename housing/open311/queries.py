"""The public view of service requests: every request in the city, with what a list may show."""

from sqlalchemy import Select
from sqlmodel import Session, col, select

from housing.open311.schemas import RequestFilters
from housing.registry.models import Building, ManagementCompany
from housing.requests.models import RequestCategory, ServiceRequest

# The spec's cap on one list ("the first 1000 requests"); clients narrow by date to see more.
MAX_REQUESTS = 1000

PublicRow = tuple[ServiceRequest, RequestCategory, Building, ManagementCompany]


def public_services(session: Session) -> list[RequestCategory]:
    """Retired categories are not offered: nothing new can be filed in them."""
    return list(
        session.exec(
            select(RequestCategory)
            .where(col(RequestCategory.active).is_(True))
            .order_by(RequestCategory.code)
        )
    )


def public_service(session: Session, code: str) -> RequestCategory | None:
    return session.exec(
        select(RequestCategory).where(RequestCategory.code == code, col(RequestCategory.active).is_(True))
    ).first()


def _public_requests() -> Select:
    return (
        select(ServiceRequest, RequestCategory, Building, ManagementCompany)
        .join(RequestCategory, RequestCategory.id == ServiceRequest.category_id)
        .join(Building, Building.id == ServiceRequest.building_id)
        .join(ManagementCompany, ManagementCompany.id == ServiceRequest.company_id)
    )


def public_requests(session: Session, filters: RequestFilters) -> list[PublicRow]:
    query = _public_requests()
    if filters.ids:
        query = query.where(col(ServiceRequest.id).in_(filters.ids))
    else:
        query = query.where(
            ServiceRequest.created_at >= filters.start, ServiceRequest.created_at <= filters.end
        )
        if filters.service_codes:
            query = query.where(col(RequestCategory.code).in_(filters.service_codes))
        if filters.statuses:
            query = query.where(col(ServiceRequest.status).in_(filters.statuses))
    query = query.order_by(col(ServiceRequest.created_at).desc(), col(ServiceRequest.id).desc())
    return [tuple(row) for row in session.exec(query.limit(MAX_REQUESTS))]


def public_request(session: Session, request_id: int) -> PublicRow | None:
    row = session.exec(_public_requests().where(ServiceRequest.id == request_id)).first()
    return tuple(row) if row is not None else None
