"""The notices of a meter alert on a resident's own meter, written in the transaction that opens it.

A leak (`meter_leak`, urgent) or a backwards reading (`meter_backwards`) on an apartment's
meter tells the apartment's resident accounts, once per alert: the alert stays open while
its condition holds, so the next runs of the detection neither open it nor notify again.
Other alerts (a stale meter, verification due) and common meters are the company's business.
"""

from datetime import datetime

from sqlmodel import Session

from housing.notifications.recipients import users_of_apartments
from housing.notifications.service import notify
from sensors.models import AlertKind, Meter

KINDS = {AlertKind.leak: "meter_leak", AlertKind.backwards: "meter_backwards"}


def alert_opened(
    session: Session, *, alert_id: int, meter: Meter, kind: AlertKind, detail: str, now: datetime
) -> int:
    """The alert's notice to the meter's apartment, for the kinds a resident is told of; how many."""
    if kind not in KINDS or meter.apartment_id is None:
        return 0
    return notify(
        session,
        user_ids=users_of_apartments([meter.apartment_id], now.date()),
        kind=KINDS[kind],
        params={"meter": meter.serial, "detail": detail},
        link=f"/apartments/{meter.apartment_id}/meters",
        dedupe=f"alert:{alert_id}",
        now=now,
    )
