"""Whether an instalment plan holds on a day, pure (no I/O): computed from the day it was
agreed, its schedule and the money paid since, never read from the plan's status column, so
the daily penalties give the same ledger whichever job ran first and however late.

The rule (docs/instalments.md):

- Every payment into the account after the plan was agreed counts toward the schedule (net of
  refunds), whatever invoice the ledger allocates it to; the caller hands them in by local day.
- The plan holds from the day after `agreed_on` (that day's penalty was due at its start,
  before anyone agreed anything) until it ends.
- Instalment n is missed when the money paid by the end of its due day is less than
  instalments 1..n together; the plan then ends missed the day after that due day, and
  penalties resume on that day.
- Paid in full (the whole schedule) before any instalment is missed, the plan ends kept the
  day after the payment that completed it.
- Cancelled by staff on day t, it holds through t and ends on t + 1 (`cancelled_from`).

A day is judged only by what was known at its start: payments of earlier days.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PlanState(StrEnum):
    """The plan's standing on a day; the values are `billing.models.PlanStatus`'s."""

    active = "active"
    kept = "kept"
    missed = "missed"
    cancelled = "cancelled"


@dataclass(frozen=True, slots=True)
class Standing:
    state: PlanState
    ended_on: date | None  # the first day it no longer held; None while active
    paid_minor: int  # counted toward the schedule by the start of the day asked about
    missed_position: int | None = None  # 1-based: the instalment that was missed

    def holds_on(self, agreed_on: date, day: date) -> bool:
        """Whether the plan's invoices are spared `day`'s penalty."""
        return agreed_on < day and (self.ended_on is None or day < self.ended_on)


def standing_on(
    day: date,
    *,
    agreed_on: date,
    schedule: Sequence[tuple[date, int]],
    payments: Iterable[tuple[date, int]],
    cancelled_from: date | None = None,
) -> Standing:
    """The plan at the start of `day`: active, or kept / missed / cancelled with the day it ended.

    `schedule`: (due_on, amount_minor) in order; `payments`: (local day, net amount paid)
    since the plan was agreed, in any order; those of `day` and later are not known yet.
    """
    known = sorted((paid_on, amount) for paid_on, amount in payments if paid_on < day)
    total = sum(amount for _, amount in schedule)
    ended: Standing | None = None
    due_so_far = 0
    for position, (due_on, amount) in enumerate(schedule, start=1):
        due_so_far += amount
        if due_on >= day:
            break  # not yet judged
        if _paid_through(known, due_on) < due_so_far:
            ended = Standing(
                PlanState.missed, due_on + timedelta(days=1), _paid_through(known, day), position
            )
            break
    if ended is None:
        completed = _day_reaching(known, total)
        if completed is not None:
            ended = Standing(PlanState.kept, completed + timedelta(days=1), _paid_through(known, day))
    cancelled_first = cancelled_from is not None and (ended is None or cancelled_from < ended.ended_on)
    if cancelled_from is not None and cancelled_from <= day and cancelled_first:
        return Standing(PlanState.cancelled, cancelled_from, _paid_through(known, day))
    return ended or Standing(PlanState.active, None, _paid_through(known, day))


def _paid_through(known: Sequence[tuple[date, int]], last_day: date) -> int:
    return sum(amount for paid_on, amount in known if paid_on <= last_day)


def _day_reaching(known: Sequence[tuple[date, int]], total: int) -> date | None:
    """The first day by whose end the payments reach `total`."""
    running = 0
    for paid_on, amount in known:
        running += amount
        if running >= total:
            return paid_on
    return None


def check_schedule(schedule: Sequence[tuple[date, int]], *, today: date, covered_minor: int) -> str | None:
    """Why a schedule cannot be agreed today for `covered_minor`, or None when it can."""
    if not schedule:
        return "a plan needs at least one instalment"
    previous: date | None = None
    for position, (due_on, amount) in enumerate(schedule, start=1):
        if amount <= 0:
            return f"instalment {position} must be more than zero"
        if due_on <= today:
            return f"instalment {position} must be due after today ({today.isoformat()})"
        if previous is not None and due_on <= previous:
            return f"instalment {position} must be due after instalment {position - 1}"
        previous = due_on
    total = sum(amount for _, amount in schedule)
    if total != covered_minor:
        return f"the instalments add up to {total} tiyin; the debt covered is {covered_minor} tiyin"
    return None
