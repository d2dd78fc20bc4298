"""Open311 API keys: who may file requests through GeoReport v2, and under which user."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from housing.db import created_at_field


class Open311ApiKey(SQLModel, table=True):
    """Only the SHA-256 of a key is kept, so a leaked table files nothing.

    Requests filed with a key are filed by its user (a dispatcher of the civic
    integration, or a user made for it), so every request still has an accountable filer.
    """

    __tablename__ = "open311_api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, description="Who holds it, e.g. the city 311 app")
    key_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    active: bool = True
    created_at: datetime = created_at_field()
