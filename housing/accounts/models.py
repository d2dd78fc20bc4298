"""Users and their revocable tokens (API bearer tokens and browser sessions alike)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field, updated_at_field


class Role(StrEnum):
    admin = "admin"
    official = "official"
    manager = "manager"
    dispatcher = "dispatcher"
    technician = "technician"
    resident = "resident"


COMPANY_ROLES = frozenset({Role.manager, Role.dispatcher, Role.technician})
CITY_ROLES = frozenset({Role.admin, Role.official})


class TokenKind(StrEnum):
    api = "api"
    session = "session"


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150, unique=True)
    password_hash: str = Field(max_length=200)
    role: Role = Field(sa_type=String(20))
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    company_id: int | None = Field(default=None, foreign_key="management_company.id", index=True)
    is_active: bool = True
    language: str | None = Field(
        default=None, max_length=5, description="The pages' language (uz, ru, en); None: not chosen"
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ApiToken(SQLModel, table=True):
    """Only the SHA-256 of a token is kept, so a leaked table grants nothing."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    kind: TokenKind = Field(sa_type=String(10))
    name: str = Field(default="", max_length=100)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
