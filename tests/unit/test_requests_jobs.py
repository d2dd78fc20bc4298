"""The request-deadlines job under a frozen clock: overdue, escalation, deferrals coming back."""

from datetime import timedelta

from sqlmodel import select

from housing.requests import service
from housing.requests.jobs import sweep_deadlines
from housing.requests.models import RequestStatus as S
from housing.requests.models import ServiceRequest
from housing.requests.service import transitions_of
from housing.scheduler import JOBS
from tests.factories.core import make_apartment
from tests.factories.requests import NOON, make_category, make_request, make_resident, move
from tests.faults import fail_when


def reload(session, request) -> ServiceRequest:
    session.expire_all()
    return session.exec(select(ServiceRequest).where(ServiceRequest.id == request.id)).one()


def test_the_job_runs_every_minute():
    [job] = [j for j in JOBS if j.name == "request-deadlines"]
    assert job.trigger.interval == timedelta(minutes=1)


def test_open_requests_past_their_deadline_are_marked_once_and_escalated_after_three_days(
    session, settings, db
):
    home = make_apartment(session)
    resident = make_resident(session, home)
    sewer = make_category(session, deadline_minutes=120)
    late = make_request(session, resident, home, sewer)
    in_time = make_request(session, resident, home, make_category(session, deadline_minutes=7 * 24 * 60))
    resolved = make_request(session, resident, home, sewer)
    move(session, resolved, S.accepted, S.resolved)
    session.commit()
    deadline = NOON + timedelta(hours=2)

    assert sweep_deadlines(db, settings, now=deadline) == (
        "0 deferred requests back in the queue, 0 newly overdue, 0 escalated"
    )
    first = deadline + timedelta(minutes=1)
    assert "1 newly overdue, 0 escalated" in sweep_deadlines(db, settings, now=first)
    assert "0 newly overdue, 0 escalated" in sweep_deadlines(db, settings, now=first + timedelta(minutes=1))
    late = reload(session, late)
    assert (late.overdue, late.overdue_at, late.escalated) == (True, first, False)
    assert not reload(session, in_time).overdue
    assert not reload(session, resolved).overdue

    assert "0 escalated" in sweep_deadlines(db, settings, now=deadline + timedelta(days=3))
    escalation = deadline + timedelta(days=3, minutes=1)
    assert "1 escalated" in sweep_deadlines(db, settings, now=escalation)
    late = reload(session, late)
    assert (late.escalated, late.escalated_at, late.overdue_at) == (True, escalation, first)


def test_a_deferred_request_waits_without_a_deadline_and_comes_back_where_it_was(session, settings, db):
    home = make_apartment(session)
    resident = make_resident(session, home)
    request = make_request(session, resident, home, make_category(session, deadline_minutes=60))
    until = NOON + timedelta(days=2)
    move(session, request, S.accepted, S.in_progress)
    move(
        session,
        request,
        S.deferred,
        reason="the part arrives on Thursday",
        until=until,
        now=NOON + timedelta(minutes=5),
    )
    session.commit()

    sweep_deadlines(db, settings, now=until - timedelta(minutes=1))
    waiting = reload(session, request)
    assert (waiting.status, waiting.overdue) == (S.deferred, False)

    assert sweep_deadlines(db, settings, now=until).startswith("1 deferred requests back in the queue")
    back = reload(session, request)
    assert (back.status, back.deferred_until, back.deadline_at) == (
        S.in_progress,
        None,
        until + timedelta(hours=1),
    )
    last = transitions_of(session, request.id)[-1]
    assert (last.from_status, last.to_status, last.actor_id, last.at) == (
        S.deferred,
        S.in_progress,
        None,
        until,
    )
    assert sweep_deadlines(db, settings, now=until).startswith("0 deferred")


def test_a_deferral_that_fails_is_logged_and_skipped_and_the_others_come_back(
    session, settings, db, monkeypatch, caplog
):
    home = make_apartment(session)
    resident = make_resident(session, home)
    category = make_category(session, deadline_minutes=60)
    until = NOON + timedelta(days=2)
    deferred = []
    for n in range(3):
        request = make_request(session, resident, home, category, description=f"the tap number {n} drips")
        move(session, request, S.accepted)
        move(session, request, S.deferred, reason="parts", until=until, now=NOON + timedelta(minutes=5))
        deferred.append(request)
    session.commit()
    broken = deferred[1]
    resume = fail_when(
        monkeypatch, service, "resume_deferred", lambda session, request, **kw: request.id == broken.id
    )

    summary = sweep_deadlines(db, settings, now=until)

    assert summary.startswith("2 deferred requests back in the queue")
    assert summary.endswith("1 failed")
    assert [reload(session, r).status for r in deferred] == [S.accepted, S.deferred, S.accepted]
    assert f"request {broken.id}" in caplog.text and "the disk is full" in caplog.text
    # The failed one was rolled back alone, and the next run brings it back.
    monkeypatch.setattr(service, "resume_deferred", resume)
    assert sweep_deadlines(db, settings, now=until).startswith("1 deferred requests back in the queue")
    assert reload(session, broken).status == S.accepted
