"""HTML routes of the core: login, logout and the per-role landing page."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from housing.accounts import service
from housing.accounts.endpoints import login
from housing.accounts.models import TokenKind
from housing.auth import SESSION_COOKIE, OptionalActor
from housing.db import SessionDep
from housing.errors import RateLimited, Unauthorized

router = APIRouter(include_in_schema=False)

ROLE_TITLES = {
    "admin": "Platform administration",
    "official": "City dashboard",
    "manager": "Company console",
    "dispatcher": "Request queue",
    "technician": "My assignments",
    "resident": "My home",
}


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, actor: OptionalActor) -> Response:
    if actor is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "housing/home.html", actor=actor, title=ROLE_TITLES[actor.role.value])


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return render(request, "housing/login.html", username="", error=None)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        user = login(request, session, username, password)
    except (Unauthorized, RateLimited) as exc:
        return render(
            request, "housing/login.html", status_code=exc.status, username=username, error=exc.detail
        )
    hours = request.app.state.settings.auth.session_hours
    token, _ = service.issue_token(session, user, kind=TokenKind.session, lifetime=timedelta(hours=hours))
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
    )
    return response


@router.post("/logout")
def logout(session: SessionDep, actor: OptionalActor) -> Response:
    if actor is not None:
        service.revoke_token(session, user_id=actor.user_id, token_id=actor.token_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
