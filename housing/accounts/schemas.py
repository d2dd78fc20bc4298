"""API models of accounts."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from housing.accounts.models import Role, TokenKind
from housing.accounts.usernames import USERNAME_PATTERN, normal_username
from housing.schemas import ReadModel
from housing.validation import Id, InputModel


def _normal(value: object) -> object:
    return normal_username(value) if isinstance(value, str) else value


# Checked in its normal form, the form it is stored in: full-width "BOSS" is "boss", a duplicate.
Username = Annotated[
    str,
    BeforeValidator(_normal),
    Field(
        pattern=USERNAME_PATTERN,
        description="3-150 of a-z, 0-9 and _ . @ + -; stored NFKC-casefolded and stripped",
    ),
]


class UserCreate(InputModel):
    username: Username
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
