"""HTML routes of the core: login, logout, the pages' language and the per-role landing page."""

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from housing import i18n
from housing.accounts import service
from housing.accounts.endpoints import login
from housing.accounts.models import Role, TokenKind
from housing.auth import SESSION_COOKIE, OptionalActor
from housing.db import SessionDep
from housing.deps import SettingsDep
from housing.errors import RateLimited, Unauthorized
from housing.settings import Settings
from housing.validation import Text
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)

# Where each role starts.
CONSOLE = "/console/requests"
ROLE_HOMES = {
    Role.resident: "/apartments",
    Role.official: "/city/scores",
    Role.admin: CONSOLE,
    Role.manager: CONSOLE,
    Role.dispatcher: CONSOLE,
    Role.technician: CONSOLE,
}
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, actor: OptionalActor) -> Response:
    if actor is None:
        return RedirectResponse("/login", status_code=303)
    if actor.role in ROLE_HOMES:
        return RedirectResponse(ROLE_HOMES[actor.role], status_code=303)
    return render(request, "housing/home.html", actor=actor)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return render(request, "housing/login.html", username="", error=None)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[Text, Form(max_length=150)],
    password: Annotated[Text, Form(max_length=200)],
) -> Response:
    try:
        user = login(request, session, username, password)
    except Unauthorized:
        _ = gettext_for(request)
        return render(
            request,
            "housing/login.html",
            status_code=401,
            username=username,
            error=_("Log-in failed: wrong user name or password."),
        )
    except RateLimited as exc:
        _ = gettext_for(request)
        return render(
            request,
            "housing/login.html",
            status_code=exc.status,
            username=username,
            error=_("Too many failed attempts; wait a minute and try again."),
        )
    hours = settings.auth.session_hours
    token, _record = service.issue_token(
        session, user, kind=TokenKind.session, lifetime=timedelta(hours=hours)
    )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    if user.language:  # pages shown before the session is read (errors) speak it too
        _remember_language(settings, response, user.language)
    return response


@router.post("/logout")
def logout(session: SessionDep, actor: OptionalActor) -> Response:
    if actor is not None:
        service.revoke_token(session, user_id=actor.user_id, token_id=actor.token_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
def choose_language(
    session: SessionDep,
    settings: SettingsDep,
    actor: OptionalActor,
    language: Annotated[Text, Form(max_length=5)],
    next: Annotated[Text, Form(max_length=500)] = "/",
) -> Response:
    """Switches the pages' language: kept on the account when signed in, in a cookie always."""
    if language not in i18n.LANGUAGES:
        language = i18n.DEFAULT_LANGUAGE
    if actor is not None:
        service.choose_language(session, user_id=actor.user_id, language=language, offered=i18n.LANGUAGES)
    response = RedirectResponse(_local_path(next), status_code=303)
    _remember_language(settings, response, language)
    return response


def _remember_language(settings: Settings, response: Response, language: str) -> None:
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def _local_path(target: str) -> str:
    """Only a path on this site: a crafted form must not turn the switcher into an open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")
