"""What the resident's and the staff's request pages share: one request's page (each audience
sees its own template), the form refusals, the category choices and the description check.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Select
from sqlmodel import Session, col, select

from housing.accounts.models import COMPANY_ROLES, Role, User
from housing.actors import DISPATCHERS, Actor
from housing.clock import local_day
from housing.errors import Conflict, DomainError, RateLimited
from housing.requests import lifecycle, service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestCategory, RequestComment, RequestStatus, RequestTransition
from housing.requests.queries import RequestRow, load_rows, visible_categories
from housing.routing import page_of
from housing.settings import Settings
from housing.validation import parse_id
from housing.web import render

PAGE_SIZE = 25
DESCRIPTION_MIN, DESCRIPTION_MAX = 5, 2000


@contextmanager
def filing_refusals(
    session: Session, errors: dict[str, str], settings: Settings, *, too_many: str, same: str
) -> Iterator[None]:
    """Turn the service's refusals of a filing into the form's messages (and roll the filing back)."""
    try:
        yield
    except RateLimited:
        session.rollback()
        errors["form"] = too_many % {"limit": settings.requests.daily_limit}
    except Conflict as exc:
        session.rollback()
        errors["form"] = same % {"number": exc.extra.get("request_id", "")}
        errors["duplicate_of"] = str(exc.extra.get("request_id", ""))
    except DomainError as exc:
        session.rollback()
        errors[exc.field or "form"] = exc.detail


def page_rows(
    session: Session, query: Select, page: int, *order: Any
) -> tuple[dict[str, int], list[RequestRow]]:
    """A page (PAGE_SIZE) of the requests `query` selects, in this order, and its place in the list."""
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = load_rows(
        session, query.order_by(*order).limit(PAGE_SIZE).offset((paging["page"] - 1) * PAGE_SIZE)
    )
    return paging, rows


def description_errors(_: Any, description: str) -> dict[str, str]:
    text = description.strip()
    if len(text) < DESCRIPTION_MIN:
        return {"description": _("Describe the problem in a few words (at least 5 letters).")}
    if len(text) > DESCRIPTION_MAX:
        return {"description": _("The description is too long: at most 2000 characters.")}
    return {}


def chosen_category(session: Session, actor: Actor, category_id: str) -> RequestCategory | None:
    wanted = parse_id(category_id)
    if wanted is None:
        return None
    return session.exec(visible_categories(actor).where(RequestCategory.id == wanted)).first()


def category_choices(session: Session, actor: Actor) -> list[RequestCategory]:
    return list(session.exec(visible_categories(actor).order_by(RequestCategory.id)))


# One request's page, for the resident and for staff


def request_page(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    now: datetime,
    row: RequestRow,
    *,
    filed: bool = False,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    request_id = row.request.id
    staff = actor.role is not Role.resident
    mover = Mover.staff if staff else Mover.resident
    current = RequestStatus(row.request.status)
    window = settings.requests.reopen_window
    context: dict[str, Any] = {
        "row": row,
        "history": _history(session, request_id),
        "comments": _comments(session, request_id, with_internal=staff),
        "photos": service.photos_of(session, request_id),
        "now": now,
        "filed": filed,
        "done": done,
        "errors": errors or {},
        "typed": typed or {},
        "moves": [
            to for to in lifecycle.allowed_targets(current) if lifecycle.mover_of(current, to) is mover
        ],
        "reason_required": lifecycle.REASON_REQUIRED,
    }
    if staff:
        handling = service.handling_company(session, row.request, local_day(now, settings.timezone))
        context["technicians"] = _technicians(session, handling)
        context["may_assign"] = actor.role in DISPATCHERS and current in lifecycle.OPEN | {
            RequestStatus.deferred
        }
        return render(
            request,
            "requests/console_request.html",
            status_code=422 if errors else 200,
            actor=actor,
            **context,
        )
    mine = row.request.requester_person_id is not None and row.request.requester_person_id == actor.person_id
    context["may_rate"] = mine and row.request.rating is None and current in lifecycle.RATEABLE
    context["may_reopen"] = RequestStatus.reopened in context["moves"] and lifecycle.may_reopen(
        row.request.resolved_at, now, window
    )
    context["reopen_until"] = row.request.resolved_at + window if row.request.resolved_at else None
    return render(
        request, "requests/request.html", status_code=422 if errors else 200, actor=actor, **context
    )


@dataclass(frozen=True)
class PostedForm:
    """A form posted on a request's page: the request as the actor sees it, and that page again."""

    request: Request
    session: Session
    actor: Actor
    now: datetime
    settings: Settings
    row: RequestRow

    def refused(self, *, errors: dict[str, str], typed: dict[str, str] | None = None) -> Response:
        """The request's page with the form's errors next to their fields (and what was typed)."""
        return request_page(
            self.request,
            self.session,
            self.actor,
            self.settings,
            self.now,
            self.row,
            errors=errors,
            typed=typed,
        )

    def done(self, what: str) -> Response:
        """Back to the request's page, which says what was done (303)."""
        return RedirectResponse(f"/requests/{self.row.request.id}?done={what}", status_code=303)

    def attempt(
        self,
        action: Callable[[], object],
        *,
        done: str,
        key: str,
        typed: dict[str, str] | None = None,
        explain: Callable[[DomainError], str] | None = None,
    ) -> Response:
        """Runs the service's action, then shows the request; a refusal is rolled back and shown
        next to the form's `key` (the service's words, or `explain`'s)."""
        try:
            action()
        except DomainError as exc:
            self.session.rollback()
            return self.refused(errors={key: exc.detail if explain is None else explain(exc)}, typed=typed)
        return self.done(done)

    def transition(
        self,
        to: RequestStatus,
        mover: Mover,
        *,
        key: str,
        typed: dict[str, str],
        reason: str | None,
        until: datetime | None = None,
        explain: Callable[[DomainError], str] | None = None,
    ) -> Response:
        """Moves the request to `to` under the company's rules (reopen window, emergency deadline)."""

        def move() -> None:
            service.transition_request(
                self.session,
                self.row.request,
                to=to,
                actor_id=self.actor.user_id,
                mover=mover,
                now=self.now,
                reopen_window=self.settings.requests.reopen_window,
                emergency_deadline=self.settings.requests.emergency_deadline,
                reason=reason,
                until=until,
            )

        return self.attempt(move, done=to.value, key=key, typed=typed, explain=explain)


def _history(session: Session, request_id: int) -> list[tuple[RequestTransition, str | None]]:
    return list(
        session.execute(
            select(RequestTransition, User.username)
            .outerjoin(User, User.id == RequestTransition.actor_id)
            .where(RequestTransition.request_id == request_id)
            .order_by(RequestTransition.at, RequestTransition.id)
        ).all()
    )


def _comments(
    session: Session, request_id: int, *, with_internal: bool
) -> list[tuple[RequestComment, str, str]]:
    query = (
        select(RequestComment, User.username, User.role)
        .join(User, User.id == RequestComment.author_id)
        .where(RequestComment.request_id == request_id)
    )
    if not with_internal:
        query = query.where(col(RequestComment.internal).is_(False))
    return list(session.execute(query.order_by(RequestComment.created_at, RequestComment.id)).all())


def _technicians(session: Session, company_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(
                User.company_id == company_id,
                col(User.role).in_(COMPANY_ROLES),
                col(User.is_active).is_(True),
            )
            .order_by(User.role.desc(), User.username)  # technicians first, then dispatchers and managers
        )
    )
