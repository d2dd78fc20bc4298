"""Quiet hours: when a message that is not urgent may be delivered, in the city's local time."""

from datetime import datetime, time, timedelta


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """Whether a local time of day falls in [start, end); the span may cross midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def deliver_at(local_now: datetime, start: time, end: time, *, urgent: bool) -> datetime:
    """The earliest moment a message may go out: now, or the end of the quiet hours it falls in.

    `local_now` is aware and in the city's zone; the answer is in the same zone.
    """
    if urgent or not in_quiet_hours(local_now.timetz().replace(tzinfo=None), start, end):
        return local_now
    ends = local_now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local_now:
        ends += timedelta(days=1)
    return ends
