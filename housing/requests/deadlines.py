"""A request's deadline: when the company must have answered it, and when it is late.

Pure: no database, no clock (`now` is always an argument). The rule itself is in
docs/requests.md ("Deadlines"); every consumer (filing, the lifecycle's moves, the
deadline job, the pages, Open311) asks this module.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from housing.settings import RequestSettings

# An emergency (burst pipe, no power, gas smell) must be contained within 30 minutes
# whatever its category says. The time is HOUSING_REQUESTS__EMERGENCY_DEADLINE_MINUTES:
# callers pass `settings.requests.emergency_deadline`; this is only the settings' default,
# for callers without settings.
EMERGENCY_DEADLINE = RequestSettings().emergency_deadline

# A deferred request comes back on the morning of the day staff chose, on the city's clock.
DEFERRAL_RETURNS_AT = time(8)


def allowed_time(
    *, category_minutes: int, emergency: bool, emergency_deadline: timedelta = EMERGENCY_DEADLINE
) -> timedelta:
    """The time a request is given: its category's, or for an emergency the tighter of that and
    `emergency_deadline` (an emergency never loosens a category that is tighter already)."""
    allowed = timedelta(minutes=category_minutes)
    if emergency:
        allowed = min(allowed, emergency_deadline)
    return allowed


def deadline_for(
    filed_at: datetime,
    *,
    category_minutes: int,
    emergency: bool,
    emergency_deadline: timedelta = EMERGENCY_DEADLINE,
) -> datetime:
    """The deadline of a request filed (or restarted) at `filed_at`.

    The clock restarts with the same rule when a deferred request comes back and when a
    resident reopens one: pass that moment as `filed_at`.
    """
    return filed_at + allowed_time(
        category_minutes=category_minutes, emergency=emergency, emergency_deadline=emergency_deadline
    )


def deferred_until(day: date, timezone: str) -> datetime:
    """The moment a request deferred to `day` comes back: that day's morning, local time."""
    return datetime.combine(day, DEFERRAL_RETURNS_AT, ZoneInfo(timezone))


def is_late(deadline_at: datetime, now: datetime) -> bool:
    """Past its deadline (for a request still owed work)."""
    return deadline_at < now


def escalation_cutoff(now: datetime, after: timedelta) -> datetime:
    """Requests whose deadline passed before this moment are escalated to the city."""
    return now - after
