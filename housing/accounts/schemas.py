"""API models of accounts."""

from datetime import datetime

from pydantic import BaseModel, Field

from housing.accounts.models import Role, TokenKind
from housing.schemas import ReadModel
from housing.validation import Id, InputModel

Username = Field(min_length=3, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")


class UserCreate(InputModel):
    username: str = Username
    password: str = Field(min_length=10, max_length=200)
    role: Role
    company_id: Id | None = None
    person_id: Id | None = None


class UserUpdate(InputModel):
    password: str | None = Field(None, min_length=10, max_length=200)
    is_active: bool | None = None
    role: Role | None = Field(None, description="A new role replaces company_id and person_id too")
    company_id: Id | None = None
    person_id: Id | None = None


class UserRead(ReadModel):
    id: int
    username: str
    role: Role
    company_id: int | None
    person_id: int | None
    is_active: bool


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_at: datetime


class TokenRead(ReadModel):
    id: int
    kind: TokenKind
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
