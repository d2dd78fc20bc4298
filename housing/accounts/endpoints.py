"""Login, tokens and user administration."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import select

from housing import actors
from housing.accounts import service
from housing.accounts.models import ApiToken, TokenKind, User
from housing.accounts.schemas import TokenRead, TokenResponse, UserCreate, UserRead, UserUpdate
from housing.auth import CurrentActor, require_roles
from housing.db import SessionDep, get_or_404
from housing.deps import SettingsDep
from housing.errors import RateLimited, Unauthorized
from housing.routing import Paging, paginate
from housing.schemas import API_PROBLEMS, Page, problems
from housing.validation import Id, Text

ADMINS_ONLY = Depends(require_roles(actors.ADMINS))

router = APIRouter(tags=["accounts"], responses=API_PROBLEMS)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login(request: Request, session: SessionDep, username: str, password: str) -> User:
    """Checks the throttle before the password, so a locked-out guesser learns nothing."""
    throttle = request.app.state.login_throttle
    client = client_address(request)
    if not throttle.allowed(username, client):
        raise RateLimited(
            "too many failed logins; wait and try again",
            retry_after=throttle.retry_after(username, client),
        )
    try:
        return service.authenticate(
            session, passwords=request.app.state.passwords, username=username, password=password
        )
    except Unauthorized:
        throttle.record_failure(username, client)
        raise


class PasswordForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form, its fields checked like every other input (validation.Text)."""

    def __init__(
        self,
        *,
        grant_type: Annotated[Text | None, Form(pattern="^password$")] = None,
        username: Annotated[Text, Form(max_length=150)],
        password: Annotated[Text, Form(max_length=200)],
        scope: Annotated[Text, Form(max_length=1000)] = "",
        client_id: Annotated[Text | None, Form(max_length=200)] = None,
        client_secret: Annotated[Text | None, Form(max_length=200)] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


@router.post("/auth/token", response_model=TokenResponse, responses=problems(429))
def issue_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[PasswordForm, Depends()],
    token_name: Annotated[Text, Form(max_length=100)] = "",
):
    """OAuth2 password flow: a bearer token for API clients."""
    user = login(request, session, form.username, form.password)
    days = settings.auth.api_token_days
    token, record = service.issue_token(
        session, user, kind=TokenKind.api, lifetime=timedelta(days=days), name=token_name
    )
    return TokenResponse(access_token=token, expires_at=record.expires_at)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: SessionDep, actor: CurrentActor) -> None:
    """Revokes the token this request was made with."""
    service.revoke_token(session, user_id=actor.user_id, token_id=actor.token_id)


@router.get("/auth/tokens", response_model=list[TokenRead])
def my_tokens(session: SessionDep, actor: CurrentActor):
    return session.exec(
        select(ApiToken).where(ApiToken.user_id == actor.user_id).order_by(ApiToken.id.desc()).limit(100)
    ).all()


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_my_token(token_id: Id, session: SessionDep, actor: CurrentActor) -> None:
    service.revoke_token(session, user_id=actor.user_id, token_id=token_id)


@router.get("/me", response_model=UserRead)
def me(session: SessionDep, actor: CurrentActor):
    return session.get(User, actor.user_id)


@router.get("/users", response_model=Page[UserRead], dependencies=[ADMINS_ONLY])
def list_users(session: SessionDep, paging: Paging):
    return paginate(session, select(User), paging, User.id)


@router.get("/users/{user_id}", response_model=UserRead, dependencies=[ADMINS_ONLY])
def read_user(user_id: Id, session: SessionDep):
    return get_or_404(session, User, user_id, "user")


@router.post(
    "/users", response_model=UserRead, status_code=status.HTTP_201_CREATED, dependencies=[ADMINS_ONLY]
)
def create_user(request: Request, body: UserCreate, session: SessionDep):
    return service.create_user(session, passwords=request.app.state.passwords, **body.model_dump())


@router.patch("/users/{user_id}", response_model=UserRead, dependencies=[ADMINS_ONLY])
def update_user(request: Request, user_id: Id, body: UserUpdate, session: SessionDep):
    user = get_or_404(session, User, user_id, "user")
    return service.update_user(
        session, user, passwords=request.app.state.passwords, **body.model_dump(exclude_unset=True)
    )
