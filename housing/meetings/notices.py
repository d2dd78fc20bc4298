"""What owners of a meeting are told, and when: the notice at publishing, the cancellation,
the result at the close (written by the verbs in the same transaction as their cause), and
the reminder before the end (the `meeting-reminders` job).

The addressees are the active resident accounts of the people on the roll (the owners on the
record date) or, for the reminder, whoever votes for a share without a ballot: the owner, or
their accepted proxy. Each notice is in the reader's language when the meeting was written in
it (else Uzbek, Russian, English) and written once per meeting, kind and account: its dedupe
key is `meeting:{id}:{what}:{user}`.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from housing.accounts.models import Role, User
from housing.announcements.languages import pick
from housing.meetings import reading
from housing.meetings.models import (
    Ballot,
    Meeting,
    MeetingProxy,
    MeetingStatus,
    MeetingText,
    MeetingVoter,
    ProxyStatus,
)
from housing.meetings.rules import MeetingRules
from housing.notifications.service import Notice, notify_each

NOTICE_CHARS = 300  # of the meeting's introduction, in the notification


def short(text: str, chars: int = NOTICE_CHARS) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def local(moment: datetime, timezone: str) -> str:
    """A moment as the city reads it: `2026-12-01 09:00`."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _accounts(people) -> Any:
    return (
        select(User.id, User.language)
        .where(User.role == Role.resident, col(User.is_active), col(User.person_id).in_(people))
        .order_by(User.id)
    )


def notify_owners(
    session: Session,
    meeting: Meeting,
    *,
    kind: str,
    params_for: Callable[[str, MeetingText], Mapping[str, Any]],
    dedupe: str,
    now: datetime,
) -> int:
    """One notice of `kind` to every owner on the roll with an account; `params_for(language,
    text)` gives its fields from the meeting's text in the reader's language."""
    texts = reading.texts_of(session, [meeting.id]).get(meeting.id, {})
    people = select(MeetingVoter.person_id).where(MeetingVoter.meeting_id == meeting.id)
    notices = []
    for user_id, language in session.exec(_accounts(people)):
        chosen, text = pick(texts, language)
        params = {"meeting_id": meeting.id, **params_for(chosen, text)}
        notices.append(Notice(user_id, params, f"/meetings/{meeting.id}"))
    return notify_each(session, notices, kind=kind, dedupe=dedupe, now=now)


def due_for_reminder(session: Session, *, settings: Any, now: datetime) -> list[int]:
    """Meetings voting now whose end is within the reminder period (none if it is 0 days)."""
    before = MeetingRules.of(settings).reminder_before
    query = select(Meeting.id).where(
        Meeting.status == MeetingStatus.published,
        Meeting.voting_starts <= now,
        Meeting.voting_ends > now,
        Meeting.voting_ends <= now + before,
    )
    return list(session.exec(query.order_by(Meeting.id)))


def remind_voters(session: Session, meeting: Meeting, *, settings: Any, now: datetime) -> int:
    """Reminds whoever votes for each share without a ballot (the owner, or their accepted
    proxy), once per meeting and account; returns how many reminders are new."""
    voted = select(Ballot.voter_id).where(Ballot.meeting_id == meeting.id)
    waiting = session.exec(
        select(MeetingVoter.id, MeetingVoter.person_id).where(
            MeetingVoter.meeting_id == meeting.id, col(MeetingVoter.id).not_in(voted)
        )
    ).all()
    accepted = dict(
        session.exec(
            select(MeetingProxy.voter_id, MeetingProxy.proxy_person_id).where(
                MeetingProxy.meeting_id == meeting.id, MeetingProxy.status == ProxyStatus.accepted
            )
        ).all()
    )
    people = {accepted.get(voter_id, person_id) for voter_id, person_id in waiting}
    if not people:
        return 0
    texts = reading.texts_of(session, [meeting.id]).get(meeting.id, {})
    ends = local(meeting.voting_ends, settings.timezone)
    notices = [
        Notice(
            user_id,
            {"meeting_id": meeting.id, "title": pick(texts, language)[1].title, "ends": ends},
            f"/meetings/{meeting.id}",
        )
        for user_id, language in session.exec(_accounts(list(people)))
    ]
    return notify_each(
        session, notices, kind="meeting_reminder", dedupe=f"meeting:{meeting.id}:reminder", now=now
    )
