"""API models of announcements: AnnouncementCreate, AnnouncementRead."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from housing.announcements.models import Reach
from housing.schemas import ReadModel
from housing.validation import Day, Id, InputModel

Language = Literal["uz", "ru", "en"]
TITLE_MAX, BODY_MAX = 200, 5000
Entrance = Annotated[int, Field(ge=1, le=1000)]


class WordingIn(InputModel):
    language: Language
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    text: str = Field(min_length=1, max_length=BODY_MAX, description="Stored as typed; escaped where shown")

    @field_validator("title", "text")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class TargetIn(InputModel):
    building_id: Id
    entrance: Entrance | None = Field(None, description="Only this entrance of the building; none: all of it")


class AnnouncementCreate(InputModel):
    """Staff name buildings (`targets`); officials a district (`district_id`) or the city."""

    reach: Reach
    texts: list[WordingIn] = Field(
        min_length=1, max_length=3, description="The title and text in one or more of uz, ru, en, each once"
    )
    targets: list[TargetIn] = Field(default_factory=list, max_length=200)
    district_id: Id | None = None
    urgent: bool = Field(False, description="Passes quiet hours and goes by SMS too")
    pinned_until: Day | None = Field(None, description="Shown first to residents up to this day")

    @field_validator("texts")
    @classmethod
    def each_language_once(cls, texts: list[WordingIn]) -> list[WordingIn]:
        languages = [t.language for t in texts]
        if len(set(languages)) != len(languages):
            raise ValueError("each language at most once")
        return texts


class WordingRead(ReadModel):
    language: str
    title: str
    text: str


class TargetRead(ReadModel):
    building_id: int
    entrance: int | None


class AnnouncementRead(ReadModel):
    id: int
    author_id: int
    company_id: int | None
    reach: Reach
    district_id: int | None
    urgent: bool
    pinned_until: date | None
    created_at: datetime
    language: str = Field(description="The language of `title` and `text`: the reader's when written in it")
    title: str
    text: str
    texts: list[WordingRead] = Field(description="Every language it was written in")
    targets: list[TargetRead]
    attachment_url: str | None
    attachment_type: str | None
    read: bool | None = Field(None, description="Residents: whether they have opened it")
    recipients: int | None = Field(None, description="Staff: resident accounts it was sent to")
    read_count: int | None = Field(None, description="Staff: how many of them have opened it")
