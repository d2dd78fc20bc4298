"""The request lifecycle as data: which status may follow which, and who may move it.

Pure: no database, no clock (`now` is always an argument). The main line is
new -> accepted -> in_progress -> resolved -> closed; staff may reject (with a reason) or
defer (until a date, when the deadline job puts it back where it was); the resident may
reopen a resolved or closed request within the reopen window. Deadlines are in
housing.requests.deadlines.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from housing.requests.models import RequestStatus as S


class Mover(StrEnum):
    staff = "staff"
    resident = "resident"


# (from, to) -> who may make that move. Anything not listed is refused with 409.
TRANSITIONS: dict[tuple[S, S], Mover] = {
    (S.new, S.accepted): Mover.staff,
    (S.new, S.rejected): Mover.staff,
    (S.new, S.deferred): Mover.staff,
    (S.accepted, S.in_progress): Mover.staff,
    (S.accepted, S.resolved): Mover.staff,  # fixed on the first visit
    (S.accepted, S.rejected): Mover.staff,
    (S.accepted, S.deferred): Mover.staff,
    (S.in_progress, S.resolved): Mover.staff,
    (S.in_progress, S.deferred): Mover.staff,
    (S.deferred, S.accepted): Mover.staff,  # resumed before the date
    (S.deferred, S.in_progress): Mover.staff,
    (S.deferred, S.rejected): Mover.staff,
    (S.resolved, S.closed): Mover.staff,
    (S.resolved, S.reopened): Mover.resident,
    (S.closed, S.reopened): Mover.resident,
    (S.reopened, S.accepted): Mover.staff,
    (S.reopened, S.in_progress): Mover.staff,
    (S.reopened, S.resolved): Mover.staff,
}

# Statuses the deadline clock runs in: work is owed. A deferred request waits for its date.
OPEN = frozenset({S.new, S.accepted, S.in_progress, S.reopened})
REASON_REQUIRED = frozenset({S.rejected, S.deferred, S.reopened})
RATEABLE = frozenset({S.resolved, S.closed})


def mover_of(current: S, target: S) -> Mover | None:
    """Who may move a request from current to target; None when the move is not allowed."""
    return TRANSITIONS.get((current, target))


def allowed_targets(current: S) -> list[S]:
    return [to for (frm, to) in TRANSITIONS if frm == current]


def may_reopen(resolved_at: datetime | None, now: datetime, window: timedelta) -> bool:
    return resolved_at is not None and now - resolved_at <= window
