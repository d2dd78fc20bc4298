"""Service request verbs. Each checks the rule it owns, flushes and never commits.

Scope (may this actor see this request, this building) is decided before these are
called, by housing.requests.queries; `now` is always passed in, so tests and the
deadline job run on a frozen clock. It runs over 500 lines because the request's life
(filing, moves, assignment to the company handling the building today, comments, rating) is
one set of verbs over one row and its history.
"""

import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from housing import clock
from housing.accounts.models import COMPANY_ROLES, User
from housing.db import apply_changes
from housing.errors import Conflict, Forbidden, Invalid, RateLimited
from housing.registry.models import Apartment, Building
from housing.registry.service import current_manager
from housing.requests import deadlines, lifecycle, notices
from housing.requests.lifecycle import Mover
from housing.requests.models import (
    RequestCategory,
    RequestComment,
    RequestPhoto,
    RequestStatus,
    RequestTransition,
    ServiceRequest,
)
from housing.requests.photos import inspect_photo

# Categories


def create_category(
    session: Session,
    *,
    code: str,
    name: str,
    deadline_minutes: int,
    emergency: bool = False,
    active: bool = True,
) -> RequestCategory:
    if session.exec(select(RequestCategory.id).where(RequestCategory.code == code)).first() is not None:
        raise Conflict(f"category code {code!r} is already taken", field="code")
    category = RequestCategory(
        code=code, name=name, deadline_minutes=deadline_minutes, emergency=emergency, active=active
    )
    session.add(category)
    session.flush()
    return category


def update_category(session: Session, category: RequestCategory, changes: dict[str, Any]) -> RequestCategory:
    """A new deadline applies to requests filed from now on; filed ones keep theirs."""
    return apply_changes(session, category, changes)


# Filing


def file_request(
    session: Session,
    *,
    filed_by_id: int,
    requester_person_id: int | None,
    building_id: int,
    apartment_id: int | None,
    category_id: int,
    description: str,
    emergency: bool | None,
    now: datetime,
    timezone: str,
    daily_limit: int,
    emergency_deadline: timedelta = deadlines.EMERGENCY_DEADLINE,
) -> ServiceRequest:
    """Files a request against the company managing the building today, with its deadline.

    `emergency_deadline` is `settings.requests.emergency_deadline`: an emergency is due then
    at the latest, whatever its category allows.
    """
    category = session.get(RequestCategory, category_id)
    if category is None or not category.active:
        raise Invalid(f"category {category_id} does not exist", field="category_id")
    if apartment_id is not None:
        apartment = session.get(Apartment, apartment_id)
        if apartment is None or apartment.building_id != building_id:
            raise Invalid(f"apartment {apartment_id} is not in building {building_id}", field="apartment_id")
    today = clock.local_day(now, timezone)
    day_start = clock.local_midnight(today, timezone)
    company_id = current_manager(session, building_id, today)
    if company_id is None or session.get(Building, building_id) is None:
        raise Invalid(f"building {building_id} has no managing company to send it to", field="building_id")
    _refuse_spam(
        session,
        filed_by_id=filed_by_id,
        requester_person_id=requester_person_id,
        since=day_start,
        same=(building_id, apartment_id, category_id, _normalized(description)),
        daily_limit=daily_limit,
        next_day=clock.local_midnight(today + timedelta(days=1), timezone),
        now=now,
    )
    emergency = category.emergency if emergency is None else emergency
    request = ServiceRequest(
        company_id=company_id,
        building_id=building_id,
        apartment_id=apartment_id,
        category_id=category.id,
        filed_by_id=filed_by_id,
        requester_person_id=requester_person_id,
        description=description.strip(),
        emergency=emergency,
        status=RequestStatus.new,
        created_at=now,
        deadline_at=deadlines.deadline_for(
            now,
            category_minutes=category.deadline_minutes,
            emergency=emergency,
            emergency_deadline=emergency_deadline,
        ),
    )
    session.add(request)
    session.flush()
    _record(session, request, None, RequestStatus.new, actor_id=filed_by_id, at=now, reason=None)
    notices.emergency_filed(session, request, now)
    return request


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def _refuse_spam(
    session: Session,
    *,
    filed_by_id: int,
    requester_person_id: int | None,
    since: datetime,
    same: tuple,
    daily_limit: int,
    next_day: datetime,
    now: datetime,
) -> None:
    """At most daily_limit requests a day per resident, and never the same one twice a day.

    Counted per requester (whoever typed it in), so a dispatcher filing after a call uses
    that resident's allowance; a request with no requester is checked per filer.
    """
    who = (
        ServiceRequest.requester_person_id == requester_person_id
        if requester_person_id is not None
        else ServiceRequest.filed_by_id == filed_by_id
    )
    today = list(
        session.exec(
            select(ServiceRequest).where(
                who, ServiceRequest.created_at >= since, ServiceRequest.created_at < next_day
            )
        )
    )
    for earlier in today:
        key = (
            earlier.building_id,
            earlier.apartment_id,
            earlier.category_id,
            _normalized(earlier.description),
        )
        if key == same:
            raise Conflict(
                f"the same request was already filed today as request {earlier.id}; "
                "add a comment to it instead of filing it again",
                request_id=earlier.id,
            )
    if requester_person_id is not None and len(today) >= daily_limit:
        raise RateLimited(
            f"at most {daily_limit} requests a day may be filed per resident and {len(today)} "
            "were filed today; try again tomorrow, or call the dispatcher in an emergency",
            retry_after=max(1, int((next_day - now).total_seconds())),
        )


# Lifecycle


def transition_request(
    session: Session,
    request: ServiceRequest,
    *,
    to: RequestStatus,
    actor_id: int | None,
    mover: Mover,
    now: datetime,
    reopen_window: timedelta,
    reason: str | None = None,
    until: datetime | None = None,
    emergency_deadline: timedelta = deadlines.EMERGENCY_DEADLINE,
) -> RequestTransition:
    current = RequestStatus(request.status)
    allowed_mover = lifecycle.mover_of(current, to)
    if allowed_mover is None:
        allowed = ", ".join(lifecycle.allowed_targets(current)) or "nothing"
        raise Conflict(
            f"a {current.value} request cannot become {to.value}; from {current.value} it may become: {allowed}",
            field="to",
        )
    if allowed_mover is not mover:
        who = "company staff" if allowed_mover is Mover.staff else "the resident"
        raise Forbidden(f"only {who} may move a request from {current.value} to {to.value}")
    reason = reason.strip() if reason else None
    if to in lifecycle.REASON_REQUIRED and not reason:
        raise Invalid(f"say why the request is {to.value}", field="reason")
    if to is RequestStatus.deferred:
        if until is None:
            raise Invalid("a deferred request needs the date it comes back (until)", field="until")
        if until <= now:
            raise Invalid("until must be in the future", field="until")
    if to is RequestStatus.reopened and not lifecycle.may_reopen(request.resolved_at, now, reopen_window):
        raise Conflict(
            f"a request can be reopened within {reopen_window.days} days of its resolution; "
            "file a new request instead"
        )
    _apply(session, request, current, to, now=now, until=until, emergency_deadline=emergency_deadline)
    return _record(session, request, current, to, actor_id=actor_id, at=now, reason=reason)


def _apply(
    session: Session,
    request: ServiceRequest,
    current: RequestStatus,
    to: RequestStatus,
    *,
    now: datetime,
    until: datetime | None,
    emergency_deadline: timedelta,
) -> None:
    """The timestamps and counters a move sets; they are what quality scores are computed from."""
    if lifecycle.mover_of(current, to) is Mover.staff:
        # Any staff answer (accept, reject, defer) is the first response the resident gets.
        request.accepted_at = request.accepted_at or now
    if current is RequestStatus.deferred:
        request.deferred_until = None
        request.deadline_at = _fresh_deadline(session, request, now, emergency_deadline)
    if to is RequestStatus.resolved:
        request.resolved_at = now
    elif to is RequestStatus.closed:
        request.closed_at = now
    elif to is RequestStatus.deferred:
        request.deferred_until = until
    elif to is RequestStatus.reopened:
        request.reopen_count += 1
        request.resolved_at = None
        request.closed_at = None
        request.deadline_at = _fresh_deadline(session, request, now, emergency_deadline)
    request.status = to
    session.add(request)


def _fresh_deadline(
    session: Session, request: ServiceRequest, now: datetime, emergency_deadline: timedelta
) -> datetime:
    """The clock restarts when a deferred request comes back or a resident reopens one."""
    category = session.get(RequestCategory, request.category_id)
    return deadlines.deadline_for(
        now,
        category_minutes=category.deadline_minutes,
        emergency=request.emergency,
        emergency_deadline=emergency_deadline,
    )


def _record(
    session: Session,
    request: ServiceRequest,
    from_status: RequestStatus | None,
    to_status: RequestStatus,
    *,
    actor_id: int | None,
    at: datetime,
    reason: str | None,
) -> RequestTransition:
    transition = RequestTransition(
        request_id=request.id,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
        at=at,
        reason=reason,
    )
    session.add(transition)
    session.flush()
    if from_status is not None:  # every move after filing is told to the resident
        notices.status_changed(session, request, transition)
    return transition


def transitions_of(session: Session, request_id: int) -> list[RequestTransition]:
    return list(
        session.exec(
            select(RequestTransition)
            .where(RequestTransition.request_id == request_id)
            .order_by(RequestTransition.at, RequestTransition.id)
        )
    )


# Assignment, comments, rating, photos


def handling_company(session: Session, request: ServiceRequest, today: date) -> int:
    """The company working on the request today: the one managing its building (a handover moves
    the building's requests with it), else the one it was filed with."""
    return current_manager(session, request.building_id, today) or request.company_id


def assign_request(
    session: Session, request: ServiceRequest, *, assignee_id: int | None, today: date
) -> ServiceRequest:
    """Assigns a member of the staff of the company handling the request today (or nobody)."""
    if assignee_id is not None:
        assignee = session.get(User, assignee_id)
        if (
            assignee is None
            or not assignee.is_active
            or assignee.role not in COMPANY_ROLES
            or assignee.company_id != handling_company(session, request, today)
        ):
            raise Invalid(
                f"user {assignee_id} is not on the staff of the company handling this request",
                field="assignee_id",
            )
    if RequestStatus(request.status) not in lifecycle.OPEN | {RequestStatus.deferred}:
        raise Conflict(f"a {request.status} request is no longer being worked on")
    request.assignee_id = assignee_id
    session.add(request)
    session.flush()
    return request


def add_comment(
    session: Session, request: ServiceRequest, *, author_id: int, body: str, internal: bool, now: datetime
) -> RequestComment:
    comment = RequestComment(
        request_id=request.id, author_id=author_id, body=body.strip(), internal=internal, created_at=now
    )
    session.add(comment)
    session.flush()
    notices.comment_added(session, request, comment)
    return comment


def comments_of(session: Session, request_id: int, *, with_internal: bool) -> list[RequestComment]:
    query = select(RequestComment).where(RequestComment.request_id == request_id)
    if not with_internal:
        query = query.where(col(RequestComment.internal).is_(False))
    return list(session.exec(query.order_by(RequestComment.created_at, RequestComment.id)))


def rate_request(
    session: Session,
    request: ServiceRequest,
    *,
    person_id: int | None,
    rating: int,
    comment: str | None,
    now: datetime,
) -> ServiceRequest:
    if person_id is None or request.requester_person_id != person_id:
        raise Forbidden("only the resident the request was filed for may rate it")
    if request.rating is not None:
        raise Conflict(f"this request was already rated {request.rating} on {request.rated_at:%Y-%m-%d}")
    if RequestStatus(request.status) not in lifecycle.RATEABLE:
        raise Conflict(f"a {request.status} request cannot be rated yet; wait until it is resolved")
    request.rating = rating
    request.rating_comment = comment.strip() if comment else None
    request.rated_at = now
    session.add(request)
    session.flush()
    return request


def attach_photo(
    session: Session,
    request: ServiceRequest,
    *,
    data: bytes,
    uploaded_by_id: int,
    photo_dir: Path,
    max_bytes: int,
    max_photos: int,
) -> RequestPhoto:
    """Checks the bytes are an image, writes them under a random name, records the row.

    The file is written before the transaction commits; if the commit fails a file without a
    row is left behind, which is harmless (nothing serves it) and preferable to a row without
    a file.
    """
    kind = inspect_photo(data, max_bytes=max_bytes)
    count = session.exec(
        select(func.count()).select_from(RequestPhoto).where(RequestPhoto.request_id == request.id)
    ).one()
    if count >= max_photos:
        raise Conflict(f"a request carries at most {max_photos} photos")
    file_name = f"{request.id}-{secrets.token_hex(12)}.{kind.extension}"
    photo_dir.mkdir(parents=True, exist_ok=True)
    (photo_dir / file_name).write_bytes(data)
    photo = RequestPhoto(
        request_id=request.id,
        file_name=file_name,
        content_type=kind.content_type,
        size_bytes=len(data),
        uploaded_by_id=uploaded_by_id,
    )
    session.add(photo)
    session.flush()
    return photo


def photos_of(session: Session, request_id: int) -> list[RequestPhoto]:
    return list(
        session.exec(
            select(RequestPhoto).where(RequestPhoto.request_id == request_id).order_by(RequestPhoto.id)
        )
    )


# Deadlines (the scheduler's part)


def mark_overdue(session: Session, *, now: datetime) -> int:
    """Flags open requests past their deadline; a request flagged once is not touched again."""
    result = session.execute(
        update(ServiceRequest)
        .where(
            col(ServiceRequest.status).in_(lifecycle.OPEN),
            col(ServiceRequest.overdue).is_(False),
            ServiceRequest.deadline_at < now,  # deadlines.is_late, in SQL
        )
        .values(overdue=True, overdue_at=now)
    )
    return result.rowcount or 0


def escalate_overdue(session: Session, *, now: datetime, after: timedelta, timezone: str) -> int:
    """Escalates open requests overdue by more than `after`: officials see (and are told of) them,
    and so do the managers of the company handling each one today (in the city's `timezone`)."""
    result = session.execute(
        update(ServiceRequest)
        .where(
            col(ServiceRequest.status).in_(lifecycle.OPEN),
            col(ServiceRequest.escalated).is_(False),
            ServiceRequest.deadline_at < deadlines.escalation_cutoff(now, after),
        )
        .values(escalated=True, escalated_at=now)
        .returning(ServiceRequest.id)
    )
    return notices.escalated(
        session, list(result.scalars()), now=now, after=after, today=clock.local_day(now, timezone)
    )


def due_deferrals(session: Session, *, now: datetime, limit: int) -> list[ServiceRequest]:
    return list(
        session.exec(
            select(ServiceRequest)
            .where(ServiceRequest.status == RequestStatus.deferred, ServiceRequest.deferred_until <= now)
            .order_by(ServiceRequest.id)
            .limit(limit)
        )
    )


def due_deferral(session: Session, request_id: int, *, now: datetime) -> ServiceRequest | None:
    request = session.get(ServiceRequest, request_id, with_for_update=True)
    if request is None or request.status != RequestStatus.deferred or request.deferred_until > now:
        return None
    return request


def resume_deferred(
    session: Session,
    request: ServiceRequest,
    *,
    now: datetime,
    emergency_deadline: timedelta = deadlines.EMERGENCY_DEADLINE,
) -> RequestTransition:
    """A deferral's date has come: back to the status it was deferred from, with a fresh deadline."""
    before = session.exec(
        select(RequestTransition.from_status)
        .where(
            RequestTransition.request_id == request.id, RequestTransition.to_status == RequestStatus.deferred
        )
        .order_by(col(RequestTransition.at).desc(), col(RequestTransition.id).desc())
    ).first()
    back_to = RequestStatus(before) if before is not None else RequestStatus.accepted
    until = request.deferred_until
    request.deferred_until = None
    request.deadline_at = _fresh_deadline(session, request, now, emergency_deadline)
    request.status = back_to
    session.add(request)
    return _record(
        session,
        request,
        RequestStatus.deferred,
        back_to,
        actor_id=None,
        at=now,
        reason=f"deferred until {until:%Y-%m-%d %H:%M} UTC; back in the queue",
    )
