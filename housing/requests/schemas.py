"""API models of service requests: XCreate, XUpdate, XRead."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

from housing.requests.models import RequestStatus
from housing.schemas import ReadModel
from housing.validation import AwareMoment, Id, InputModel

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="lower_snake_case")]
DeadlineMinutes = Annotated[int, Field(gt=0, le=60 * 24 * 365, description="From filing to resolution")]


class CategoryCreate(InputModel):
    code: Code
    name: str = Field(min_length=2, max_length=100)
    deadline_minutes: DeadlineMinutes
    emergency: bool = False
    active: bool = True


class CategoryUpdate(InputModel):
    name: str | None = Field(None, min_length=2, max_length=100)
    deadline_minutes: DeadlineMinutes | None = None
    emergency: bool | None = None
    active: bool | None = None


class CategoryRead(ReadModel):
    id: int
    code: str
    name: str
    deadline_minutes: int
    emergency: bool
    active: bool


class RequestCreate(InputModel):
    """Name the apartment, or the building for a common-area problem."""

    apartment_id: Id | None = None
    building_id: Id | None = Field(None, description="Needed when no apartment is given")
    category_id: Id
    description: str = Field(min_length=5, max_length=2000)
    emergency: bool | None = Field(None, description="Overrides the category's default")
    requester_person_id: Id | None = Field(
        None, description="Staff filing after a phone call: the resident it is for"
    )


class RequestRead(ReadModel):
    id: int
    company_id: int
    building_id: int
    apartment_id: int | None
    category_id: int
    filed_by_id: int
    requester_person_id: int | None
    description: str
    emergency: bool
    status: RequestStatus
    created_at: datetime
    deadline_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    deferred_until: datetime | None
    overdue: bool
    overdue_at: datetime | None
    escalated: bool
    escalated_at: datetime | None
    reopen_count: int
    assignee_id: int | None
    rating: int | None
    rating_comment: str | None
    rated_at: datetime | None


class TransitionCreate(InputModel):
    to: RequestStatus
    reason: str | None = Field(None, max_length=1000, description="Required to reject, defer or reopen")
    until: AwareMoment | None = Field(None, description="Deferring: when the request comes back")


class TransitionRead(ReadModel):
    id: int
    from_status: RequestStatus | None
    to_status: RequestStatus
    actor_id: int | None
    at: datetime
    reason: str | None


class AssignmentUpdate(InputModel):
    assignee_id: Id | None = Field(description="A staff member of the company; null unassigns")


class CommentCreate(InputModel):
    body: str = Field(min_length=1, max_length=2000)
    internal: bool = Field(False, description="Staff only: hidden from the resident")


class CommentRead(ReadModel):
    id: int
    author_id: int
    body: str
    internal: bool
    created_at: datetime


class RatingCreate(InputModel):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=1000)


class PhotoRead(ReadModel):
    id: int
    content_type: str
    size_bytes: int
    uploaded_by_id: int
    created_at: datetime


class RequestDetail(RequestRead):
    transitions: list[TransitionRead]
    comments: list[CommentRead]
    photos: list[PhotoRead]
