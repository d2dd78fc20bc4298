"""Who is asking: the current actor from a bearer token or the session cookie, and role guards."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from housing.accounts.models import CITY_ROLES, COMPANY_ROLES, Role
from housing.accounts.service import user_for_token
from housing.db import SessionDep, utcnow
from housing.errors import Forbidden, Unauthorized

SESSION_COOKIE = "housing_session"

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    role: Role
    company_id: int | None
    person_id: int | None
    token_id: int
    language: str | None = None  # the pages' language the user chose; None: not chosen yet

    @property
    def is_company_staff(self) -> bool:
        return self.role in COMPANY_ROLES

    @property
    def sees_whole_city(self) -> bool:
        return self.role in CITY_ROLES


def _token_from(request: Request, header_token: str | None) -> str | None:
    return header_token or request.cookies.get(SESSION_COOKIE)


def get_optional_actor(
    request: Request, session: SessionDep, header_token: Annotated[str | None, Depends(bearer)]
) -> Actor | None:
    token = _token_from(request, header_token)
    if not token:
        return None
    try:
        user, record = user_for_token(session, token)
    except Unauthorized:
        return None
    # Recording use costs a write per request; once a minute is enough for an audit trail.
    now = utcnow()
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        record.last_used_at = now
        session.add(record)
    return Actor(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        company_id=user.company_id,
        person_id=user.person_id,
        token_id=record.id,
        language=user.language,
    )


def get_actor(actor: Annotated[Actor | None, Depends(get_optional_actor)]) -> Actor:
    if actor is None:
        raise Unauthorized("log in first: send a bearer token from /api/v1/auth/token")
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]
OptionalActor = Annotated[Actor | None, Depends(get_optional_actor)]


def require_roles(*roles: Role) -> Callable[[Actor], Actor]:
    allowed = frozenset(roles)

    def guard(actor: CurrentActor) -> Actor:
        if actor.role not in allowed:
            raise Forbidden(f"a {actor.role.value} may not do this")
        return actor

    return guard


AdminActor = Annotated[Actor, Depends(require_roles(Role.admin))]
# The city dashboard: officials read the whole city, admins too; nobody else.
CityActor = Annotated[Actor, Depends(require_roles(Role.official, Role.admin))]
# The company console: a company's staff within their scope, admins anywhere.
StaffActor = Annotated[
    Actor, Depends(require_roles(Role.admin, Role.manager, Role.dispatcher, Role.technician))
]
# Who may change the register: admins anywhere, company managers within their scope.
RegistrarActor = Annotated[Actor, Depends(require_roles(Role.admin, Role.manager))]
