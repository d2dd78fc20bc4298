"""Reading-window notices for the meters residents read by hand (`reading_window_open`, and
`reading_window_closing` for the meters still without a reading), one per apartment.

Written by the daily `reading-window` job (`sensors.jobs.reading_window`): on the day the
window opens (or the first run after it), and from `window_closing_days` before it closes
through its last day for the apartments whose manual meters have no reading in it yet.
Keyed by the window's opening day and the apartment, so each is written once per window.
Flush, never commit.
"""

from datetime import date, datetime

from sqlalchemy import Select, exists, or_
from sqlmodel import Session, col, select

from housing import clock
from housing.notifications.recipients import users_by_apartment
from housing.notifications.service import Notice, notify_each
from sensors.meters.window import Window
from sensors.models import Meter, Reading

OPEN = "reading_window_open"
CLOSING = "reading_window_closing"


def _manual_meters(today: date) -> Select:
    """Meters in apartments, read by hand, in service on `today`."""
    return select(Meter.id, Meter.apartment_id, Meter.serial).where(
        col(Meter.smart).is_(False),
        col(Meter.apartment_id).is_not(None),
        Meter.installed_on <= today,
        or_(col(Meter.removed_on).is_(None), col(Meter.removed_on) > today),
    )


def _unread(window: Window, today: date, timezone: str) -> Select:
    """The manual meters without a reading taken since the window opened."""
    since = clock.local_midnight(window.opens, timezone)
    read = exists().where(Reading.meter_id == Meter.id, Reading.taken_at >= since)
    return _manual_meters(today).where(~read)


def apartments_to_remind(
    session: Session, kind: str, window: Window, today: date, timezone: str
) -> list[int]:
    """The apartments with a manual meter (OPEN), or with one still unread in the window (CLOSING)."""
    meters = (_manual_meters(today) if kind == OPEN else _unread(window, today, timezone)).subquery()
    return sorted(set(session.exec(select(meters.c.apartment_id))))


def remind(
    session: Session,
    apartment_ids: list[int],
    *,
    kind: str,
    window: Window,
    today: date,
    timezone: str,
    now: datetime,
) -> int:
    """`kind` notices to the resident accounts of the apartments; how many were new."""
    meters = _manual_meters(today) if kind == OPEN else _unread(window, today, timezone)
    serials: dict[int, list[str]] = {}
    for _id, apartment_id, serial in session.exec(meters.where(col(Meter.apartment_id).in_(apartment_ids))):
        serials.setdefault(apartment_id, []).append(serial)
    users = users_by_apartment(session, serials.keys(), today)
    params = {"closes": window.closes.isoformat(), "days": (window.closes - today).days}
    notices = [
        Notice(
            user_id,
            params if kind == OPEN else params | {"meter": ", ".join(sorted(found))},
            f"/apartments/{apartment_id}/meters",
            key=str(apartment_id),
        )
        for apartment_id, found in sorted(serials.items())
        for user_id in users.get(apartment_id, [])
    ]
    return notify_each(session, notices, kind=kind, dedupe=f"reading-window:{window.opens}:{kind}", now=now)
