"""Owners' meetings under concurrent transactions on PostgreSQL: a ballot submitted twice at
once, a ballot racing the close (counted or refused, never half), two staff closing at once:
one ballot, one count; two managers publishing at once: one roll.

Each side runs in its own thread and transaction. Where the order matters, one side holds
its transaction open while the test waits (with a deadline) until PostgreSQL reports the
other blocked on the meeting row's lock, then lets the first commit.
"""

import threading
import time
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, func, select

from housing.errors import Conflict
from housing.meetings import closing, publishing, reading, receipts, voting
from housing.meetings.models import Ballot, BuildingDecision, Meeting, MeetingEvent
from housing.meetings.rules import Choice, from_text
from housing.notifications.models import Notification
from tests.concurrency import DEADLINE, run_together, wait_until_blocked
from tests.conftest import TEST_DATABASE_URL
from tests.factories import meetings as f
from tests.factories.core import make_apartment, make_building, make_owner

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (HOUSING_TEST_DATABASE_URL)")

MEETING_LOCK = "the other transaction never waited on the meeting's lock"


@pytest.fixture
def vote(db: Engine, settings):
    """A published meeting of three flats (50, 30, 20 m2) whose owners have accounts, committed."""
    with Session(db, expire_on_commit=False) as session:
        building = make_building(session)
        owners = [
            make_owner(session, make_apartment(session, building, area_m2=Decimal(a)))
            for a in ("50", "30", "20")
        ]
        residents = [f.resident(session, person) for person in owners]
        meeting = f.published(session, settings, building)
        entries = [voting.voter_entries(session, r, meeting)[0].voter_id for r in residents]
        (question,) = f.questions(session, meeting)
        managers = [f.manager_of(session, building) for _ in range(2)]
        session.commit()
    return meeting.id, question.id, residents, entries, managers


def cast(db: Engine, actor, meeting_id: int, voter_id: int, question_id: int, *, now, hold=None) -> Ballot:
    with Session(db, expire_on_commit=False) as session:
        meeting = session.get(Meeting, meeting_id)
        ballot = voting.cast_ballot(
            session, actor, meeting, voter_id=voter_id, answers={question_id: Choice.yes}, now=now
        )
        if hold is not None:
            hold()
        session.commit()
        return ballot


def close(db: Engine, settings, actor, meeting_id: int, *, now, hold=None):
    with Session(db, expire_on_commit=False) as session:
        meeting = session.get(Meeting, meeting_id)
        counted = closing.close_meeting(session, meeting, actor=actor, settings=settings, now=now)
        if hold is not None:
            hold()
        session.commit()
        return counted


def stored(db: Engine, meeting_id: int) -> tuple[Meeting, int]:
    with Session(db) as session:
        meeting = session.get(Meeting, meeting_id)
        ballots = session.exec(select(func.count()).where(Ballot.meeting_id == meeting_id)).one()
        return meeting, ballots


def test_the_same_ballot_submitted_twice_at_once_is_appended_once(db, vote):
    meeting_id, question_id, residents, entries, _ = vote
    results = run_together(
        *(lambda: cast(db, residents[0], meeting_id, entries[0], question_id, now=f.VOTING) for _ in range(2))
    )
    assert sorted(type(r).__name__ for r in results) == ["Ballot", "Conflict"]
    refusal = next(r for r in results if isinstance(r, Conflict))
    assert "the owner voted for this share online" in refusal.detail
    meeting, ballots = stored(db, meeting_id)
    assert ballots == 1 and meeting.ballots == 1


def test_ballots_of_different_owners_at_once_all_join_one_chain(db, vote):
    meeting_id, question_id, residents, entries, _ = vote
    results = run_together(
        *(
            (lambda r=r, e=e: cast(db, r, meeting_id, e, question_id, now=f.VOTING))
            for r, e in zip(residents, entries, strict=True)
        )
    )
    assert all(isinstance(r, Ballot) for r in results)
    with Session(db) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting.ballots == 3
        assert receipts.verify_meeting_chain(session, meeting)


def test_a_ballot_that_holds_the_lock_when_the_close_comes_is_counted(db, settings, vote):
    meeting_id, question_id, residents, entries, _ = vote
    release = threading.Event()
    last_moment = f.ENDS.replace(microsecond=0) - f.ENDS.resolution
    ballot_side = threading.Thread(
        target=lambda: cast(
            db,
            residents[0],
            meeting_id,
            entries[0],
            question_id,
            now=last_moment,
            hold=lambda: release.wait(DEADLINE),
        )
    )
    ballot_side.start()
    wait_for_row_lock(db, meeting_id)
    closing = threading.Thread(target=lambda: close(db, settings, None, meeting_id, now=f.ENDS))
    closing.start()
    wait_until_blocked(db, MEETING_LOCK)
    release.set()
    ballot_side.join(DEADLINE)
    closing.join(DEADLINE)
    meeting, ballots = stored(db, meeting_id)
    assert ballots == 1 and meeting.status == "closed"
    assert from_text(meeting.votes_cast) == Fraction(50)  # the ballot is in the count


def test_a_ballot_that_comes_while_the_close_holds_the_lock_is_refused(db, settings, vote):
    meeting_id, question_id, residents, entries, _ = vote
    release = threading.Event()
    closing = threading.Thread(
        target=lambda: close(db, settings, None, meeting_id, now=f.ENDS, hold=lambda: release.wait(DEADLINE))
    )
    closing.start()
    wait_for_row_lock(db, meeting_id)
    outcome: list[object] = []

    def late_ballot() -> None:
        try:
            # Its clock still reads a moment inside the voting period: only the lock refuses it.
            outcome.append(cast(db, residents[0], meeting_id, entries[0], question_id, now=f.VOTING))
        except Conflict as exc:
            outcome.append(exc)

    ballot_side = threading.Thread(target=late_ballot)
    ballot_side.start()
    wait_until_blocked(db, MEETING_LOCK)
    release.set()
    closing.join(DEADLINE)
    ballot_side.join(DEADLINE)
    assert isinstance(outcome[0], Conflict) and "no ballot after it" in outcome[0].detail
    meeting, ballots = stored(db, meeting_id)
    assert ballots == 0 and meeting.ballots == 0 and from_text(meeting.votes_cast) == 0


def test_two_staff_closing_at_once_make_one_count(db, settings, vote):
    meeting_id, question_id, residents, entries, managers = vote
    for resident, entry in zip(residents[:2], entries[:2], strict=True):
        cast(db, resident, meeting_id, entry, question_id, now=f.VOTING)
    results = run_together(*(lambda m=m: close(db, settings, m, meeting_id, now=f.AFTER) for m in managers))
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Count"]
    with Session(db) as session:
        closes = session.exec(
            select(func.count()).where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.action == "closed")
        ).one()
        decisions = session.exec(select(func.count()).select_from(BuildingDecision)).one()
        results_sent = session.exec(select(func.count()).where(Notification.kind == "meeting_result")).one()
    assert (closes, decisions, results_sent) == (1, 1, 3)


def wait_for_row_lock(db: Engine, meeting_id: int) -> None:
    """Until another transaction holds the meeting's row lock: a NOWAIT lock attempt fails."""
    ends = time.monotonic() + DEADLINE
    while time.monotonic() < ends:
        with db.connect() as connection:
            try:
                connection.execute(
                    text("SELECT id FROM meeting WHERE id = :id FOR UPDATE NOWAIT"), {"id": meeting_id}
                )
            except Exception:
                connection.rollback()
                return
            connection.rollback()
        time.sleep(0.02)  # polling interval; the proof is the lock seen taken
    pytest.fail("the first transaction never took the meeting's lock")


def test_two_managers_publishing_at_once_fix_one_roll_and_notify_once(db, settings):
    with Session(db, expire_on_commit=False) as session:
        building = make_building(session)
        for area in ("60", "40"):
            f.resident(session, make_owner(session, make_apartment(session, building, area_m2=Decimal(area))))
        managers = [f.manager_of(session, building) for _ in range(2)]
        meeting_id = f.draft(session, managers[0], building).id
        session.commit()

    def publish(manager):
        with Session(db, expire_on_commit=False) as session:
            meeting = session.get(Meeting, meeting_id)
            published = publishing.publish_meeting(
                session, manager, meeting, settings=settings, now=f.DRAFTED
            )
            session.commit()
            return published

    results = run_together(*(lambda m=m: publish(m) for m in managers))
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Meeting"]
    with Session(db) as session:
        meeting = session.get(Meeting, meeting_id)
        assert len(reading.roll_of(session, meeting)) == 2
        notices = session.exec(select(func.count()).where(Notification.kind == "meeting_notice")).one()
    assert notices == 2
