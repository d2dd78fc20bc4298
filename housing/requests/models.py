"""Service request tables.

ServiceRequest keeps the facts a quality score needs as plain columns (company at filing
time, deadline, first response, resolution, overdue and escalation flags, reopens,
rating), so a score per company and month is one GROUP BY, not a replay of history.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field, updated_at_field


class RequestStatus(StrEnum):
    new = "new"
    accepted = "accepted"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    rejected = "rejected"
    deferred = "deferred"
    reopened = "reopened"


class RequestCategory(SQLModel, table=True):
    __tablename__ = "request_category"
    __table_args__ = (CheckConstraint("deadline_minutes > 0", name="deadline_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    deadline_minutes: int = Field(description="Time allowed from filing to resolution (or containment)")
    emergency: bool = Field(default=False, description="Requests in it are emergencies unless said otherwise")
    active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ServiceRequest(SQLModel, table=True):
    __tablename__ = "service_request"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("reopen_count >= 0", name="reopen_count_not_negative"),
        # Quality scores group by company and month; the deadline sweep scans open requests;
        # Open311's city-wide list takes the newest 1,000 of a date range.
        Index(None, "created_at", "id"),
        Index(None, "company_id", "created_at"),
        Index(None, "building_id", "created_at"),
        Index(None, "status", "deadline_at"),
        Index(None, "requester_person_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="management_company.id", description="Managing company at filing")
    building_id: int = Field(foreign_key="building.id")
    apartment_id: int | None = Field(default=None, foreign_key="apartment.id", index=True)
    category_id: int = Field(foreign_key="request_category.id")
    # Who typed it in (a resident, or a dispatcher after a phone call) and whose it is.
    filed_by_id: int = Field(foreign_key="user_account.id")
    requester_person_id: int | None = Field(default=None, foreign_key="person.id")
    description: str = Field(max_length=2000)
    emergency: bool = False
    status: RequestStatus = Field(default=RequestStatus.new, sa_type=String(20))
    created_at: datetime = created_at_field()
    deadline_at: datetime = Field(sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, description="First response")
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deferred_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Sticky: once a deadline was missed it stays recorded, even after a reopen resets it.
    overdue: bool = False
    overdue_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated: bool = False
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reopen_count: int = 0
    assignee_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    rating: int | None = None
    rating_comment: str | None = Field(default=None, max_length=1000)
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = updated_at_field()


class RequestTransition(SQLModel, table=True):
    """Every status change with who made it; actor_id is None for the scheduler's own moves."""

    __tablename__ = "request_transition"
    __table_args__ = (Index(None, "request_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="service_request.id")
    from_status: RequestStatus | None = Field(default=None, sa_type=String(20))
    to_status: RequestStatus = Field(sa_type=String(20))
    actor_id: int | None = Field(default=None, foreign_key="user_account.id")
    at: datetime = Field(sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=1000)


class RequestComment(SQLModel, table=True):
    """internal: for staff only; otherwise the resident reads it too."""

    __tablename__ = "request_comment"
    __table_args__ = (Index(None, "request_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="service_request.id")
    author_id: int = Field(foreign_key="user_account.id")
    body: str = Field(max_length=2000)
    internal: bool = False
    created_at: datetime = created_at_field()


class RequestPhoto(SQLModel, table=True):
    """A photo's metadata; the bytes live on disk under HOUSING_REQUESTS__PHOTO_DIR/file_name."""

    __tablename__ = "request_photo"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="service_request.id", index=True)
    file_name: str = Field(max_length=100, unique=True)
    content_type: str = Field(max_length=50)
    size_bytes: int
    uploaded_by_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = created_at_field()
