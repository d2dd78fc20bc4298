"""Where a meeting stands at a moment: its phase, from its status and the clock. Pure.

A published meeting gives notice until voting starts, is voting from `voting_starts`
(inclusive) to `voting_ends` (exclusive), then waits for its count until it is closed.
"""

from datetime import datetime
from enum import StrEnum

from housing.meetings.models import Meeting, MeetingStatus


class Phase(StrEnum):
    draft = "draft"
    initiative = "initiative"
    notice = "notice"
    voting = "voting"
    counting = "counting"
    closed = "closed"
    cancelled = "cancelled"


_BY_STATUS = {
    MeetingStatus.draft: Phase.draft,
    MeetingStatus.initiative: Phase.initiative,
    MeetingStatus.closed: Phase.closed,
    MeetingStatus.cancelled: Phase.cancelled,
}


def phase(meeting: Meeting, now: datetime) -> Phase:
    status = MeetingStatus(meeting.status)
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if now < meeting.voting_starts:
        return Phase.notice
    if now < meeting.voting_ends:
        return Phase.voting
    return Phase.counting


def editable(meeting: Meeting) -> bool:
    """The agenda, texts and period may change only before the meeting is published."""
    return MeetingStatus(meeting.status) in (MeetingStatus.draft, MeetingStatus.initiative)
