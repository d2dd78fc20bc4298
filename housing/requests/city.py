"""What the city dashboard reads of service requests: the escalated ones, city-wide.

A request is escalated when it stays open days past its deadline (`escalate_overdue`);
officials follow these up with the company. One query returns a page of them with their
place, category and company; a second counts them. Nothing is read per row.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlmodel import Session, col

from housing.registry.models import Building, District, ManagementCompany
from housing.requests import lifecycle
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from housing.routing import counted_page


@dataclass(frozen=True)
class EscalatedRequest:
    id: int
    status: RequestStatus
    emergency: bool
    category: str
    description: str
    created_at: datetime
    deadline_at: datetime
    escalated_at: datetime | None
    resolved_at: datetime | None
    building_id: int
    address: str
    district_id: int
    district: str
    company_id: int
    company: str

    @property
    def open(self) -> bool:
        return self.status in lifecycle.OPEN

    def overdue_hours(self, now: datetime) -> float:
        """How long past the deadline: until now while open, until the resolution after."""
        end = now if self.open or self.resolved_at is None else self.resolved_at
        return max((end - self.deadline_at).total_seconds() / 3600, 0.0)


def _escalated(district_id: int | None, company_id: int | None, open_only: bool) -> Select:
    query = (
        select(
            ServiceRequest.id,
            ServiceRequest.status,
            ServiceRequest.emergency,
            RequestCategory.name.label("category"),
            ServiceRequest.description,
            ServiceRequest.created_at,
            ServiceRequest.deadline_at,
            ServiceRequest.escalated_at,
            ServiceRequest.resolved_at,
            ServiceRequest.building_id,
            Building.address,
            Building.district_id,
            District.name.label("district"),
            ServiceRequest.company_id,
            ManagementCompany.name.label("company"),
        )
        .join(Building, Building.id == ServiceRequest.building_id)
        .join(District, District.id == Building.district_id)
        .join(ManagementCompany, ManagementCompany.id == ServiceRequest.company_id)
        .join(RequestCategory, RequestCategory.id == ServiceRequest.category_id)
        .where(col(ServiceRequest.escalated).is_(True))
    )
    if district_id is not None:
        query = query.where(Building.district_id == district_id)
    if company_id is not None:
        query = query.where(ServiceRequest.company_id == company_id)
    if open_only:
        query = query.where(col(ServiceRequest.status).in_(lifecycle.OPEN))
    return query


def escalated_requests(
    session: Session,
    *,
    district_id: int | None = None,
    company_id: int | None = None,
    open_only: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[EscalatedRequest], int]:
    """Escalated requests in a district (the building's) and/or of a company, longest overdue
    first; a page of them and how many there are in all."""
    rows, total = counted_page(
        session,
        _escalated(district_id, company_id, open_only),
        ServiceRequest.deadline_at,
        ServiceRequest.id,
        limit=limit,
        offset=offset,
    )
    return [EscalatedRequest(**row._mapping) for row in rows], total
