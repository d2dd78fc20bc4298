"""The notices a service request causes, written in the transaction of the move that causes them.

- its resident hears of each status change and each comment they may read (`request_status`,
  `request_comment`), but not of what they did themselves;
- a new emergency alerts the company's dispatchers and managers (`staff_emergency`);
- an escalation alerts the city's officials and the company's managers (`staff_escalation`).

Each is keyed by its cause (the transition, the comment, the request), so a cause that runs
twice notifies once. Flush, never commit (`housing.notifications.service.notify`).
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import Select, or_, select, union
from sqlmodel import Session, col

from housing.accounts.models import Role, User
from housing.notifications.recipients import company_staff, officials
from housing.notifications.service import notify
from housing.registry.models import Building
from housing.registry.service import current_manager
from housing.requests.models import RequestCategory, RequestComment, RequestTransition, ServiceRequest

# The words a status is shown with: the pages' own msgids (templates/requests/words.html),
# which the message renders in its reader's language (`housing.notifications.messages`).
STATUS_WORDS = {
    "new": "new",
    "accepted": "accepted",
    "in_progress": "in progress",
    "resolved": "resolved",
    "closed": "closed",
    "rejected": "rejected",
    "deferred": "deferred",
    "reopened": "reopened",
}
STAFF_AUTHOR = "the management company"  # the page's msgid for staff (templates/requests/parts.html)
EMERGENCY_ROLES = (Role.dispatcher, Role.manager)
QUOTED = 300  # characters of a comment or description quoted in a notice


def _link(request: ServiceRequest) -> str:
    return f"/requests/{request.id}"


def residents_of(request: ServiceRequest, *, except_user: int | None = None) -> Select:
    """The active resident accounts the request is for: its requester's, and its filer's if a resident."""
    mine = [User.person_id == request.requester_person_id] if request.requester_person_id else []
    query = select(User.id).where(
        User.role == Role.resident,
        User.is_active,
        or_(User.id == request.filed_by_id, *mine),
    )
    if except_user is not None:
        query = query.where(User.id != except_user)
    return query


def status_changed(session: Session, request: ServiceRequest, transition: RequestTransition) -> int:
    """`request_status` to the request's residents, unless one of them made the move."""
    status = str(transition.to_status)
    return notify(
        session,
        user_ids=residents_of(request, except_user=transition.actor_id),
        kind="request_status",
        params={"number": request.id, "status": STATUS_WORDS.get(status, status)},
        link=_link(request),
        dedupe=f"request-transition:{transition.id}",
        now=transition.at,
    )


def comment_added(session: Session, request: ServiceRequest, comment: RequestComment) -> int:
    """`request_comment` to the request's residents for a comment they may read, not their own.

    Staff write as "the management company", as the request's page shows them to residents.
    """
    if comment.internal:
        return 0
    writer = session.get(User, comment.author_id)
    author = writer.username if writer is not None and writer.role == Role.resident else STAFF_AUTHOR
    return notify(
        session,
        user_ids=residents_of(request, except_user=comment.author_id),
        kind="request_comment",
        params={"number": request.id, "author": author, "text": _quoted(comment.body)},
        link=_link(request),
        dedupe=f"request-comment:{comment.id}",
        now=comment.created_at,
    )


def emergency_filed(session: Session, request: ServiceRequest, now: datetime) -> int:
    """`staff_emergency` to the dispatchers and managers of the company it was filed with, but the
    dispatcher who typed it in after a call."""
    if not request.emergency:
        return 0
    category, address = _category_and_address(session, request)
    return notify(
        session,
        user_ids=company_staff(request.company_id, EMERGENCY_ROLES).where(User.id != request.filed_by_id),
        kind="staff_emergency",
        params={
            "number": request.id,
            "category": category,
            "building": address,
            "text": _quoted(request.description),
        },
        link=_link(request),
        dedupe=f"request-emergency:{request.id}",
        now=now,
    )


def escalated(
    session: Session, request_ids: Iterable[int], *, now: datetime, after: timedelta, today: date
) -> int:
    """`staff_escalation` for each request escalated now: to every official and the managers of the
    company managing its building `today` (a handover moves its requests), else the one it was filed with.

    Returns how many requests it told of (the escalation's own count).
    """
    ids = list(request_ids)
    for request in session.scalars(select(ServiceRequest).where(col(ServiceRequest.id).in_(ids))):
        category, address = _category_and_address(session, request)
        handling = current_manager(session, request.building_id, today) or request.company_id
        late = max((now - request.deadline_at).days, after.days)
        notify(
            session,
            user_ids=_either(officials(), company_staff(handling, (Role.manager,))),
            kind="staff_escalation",
            params={"number": request.id, "category": category, "building": address, "days": late},
            link=_link(request),
            dedupe=f"request-escalated:{request.id}",
            now=now,
        )
    return len(ids)


def _either(*queries: Select) -> Select:
    """The user ids of any of the queries, as one query (`notify` takes a Select)."""
    ids = union(*queries).subquery()
    return select(ids.c[0])


def _category_and_address(session: Session, request: ServiceRequest) -> tuple[str, str]:
    category = session.get(RequestCategory, request.category_id)
    building = session.get(Building, request.building_id)
    return (category.name if category else "?"), (building.address if building else "?")


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"
