"""Who is asking, for FastAPI: the actor from a bearer token or the session cookie, and every role guard.

The actor type and the role sets live apart from the framework, in `housing.actors`.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from housing import actors
from housing.accounts.models import Role
from housing.accounts.service import user_for_token
from housing.actors import Actor
from housing.db import SessionDep, utcnow
from housing.errors import Forbidden, Unauthorized

SESSION_COOKIE = "housing_session"

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


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
    return Actor.of(user, token_id=record.id)


def get_actor(actor: Annotated[Actor | None, Depends(get_optional_actor)]) -> Actor:
    if actor is None:
        raise Unauthorized("log in first: send a bearer token from /api/v1/auth/token")
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]
OptionalActor = Annotated[Actor | None, Depends(get_optional_actor)]


def require_roles(roles: frozenset[Role]) -> Callable[[Actor], Actor]:
    def guard(actor: CurrentActor) -> Actor:
        if actor.role not in roles:
            raise Forbidden(f"a {actor.role.value} may not do this")
        return actor

    return guard


# Every role guard, one per named set in `housing.actors`. A route that only guards takes
# `dependencies=[Depends(require_roles(...))]`; one that needs the actor takes an alias.
AdminActor = Annotated[Actor, Depends(require_roles(actors.ADMINS))]
ResidentActor = Annotated[Actor, Depends(require_roles(actors.RESIDENTS))]
CityActor = Annotated[Actor, Depends(require_roles(actors.CITY_READERS))]
StaffActor = Annotated[Actor, Depends(require_roles(actors.STAFF))]
RegistrarActor = Annotated[Actor, Depends(require_roles(actors.REGISTRARS))]
DispatcherActor = Annotated[Actor, Depends(require_roles(actors.DISPATCHERS))]
CallTakerActor = Annotated[Actor, Depends(require_roles(actors.CALL_TAKERS))]
FilerActor = Annotated[Actor, Depends(require_roles(actors.FILERS))]
ParticipantActor = Annotated[Actor, Depends(require_roles(actors.PARTICIPANTS))]
WatcherActor = Annotated[Actor, Depends(require_roles(actors.WATCHERS))]
MeterReaderActor = Annotated[Actor, Depends(require_roles(actors.METER_READERS))]
AnnouncerActor = Annotated[Actor, Depends(require_roles(actors.ANNOUNCERS))]
