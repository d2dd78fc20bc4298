"""The pure lifecycle: which moves exist, who makes them, and deadline arithmetic."""

from datetime import UTC, date, datetime, timedelta

import pytest

from housing import clock
from housing.requests import deadlines, lifecycle
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestStatus as S

T0 = datetime(2026, 11, 17, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "target", "mover"),
    [
        (S.new, S.accepted, Mover.staff),
        (S.accepted, S.in_progress, Mover.staff),
        (S.in_progress, S.resolved, Mover.staff),
        (S.resolved, S.closed, Mover.staff),
        (S.new, S.rejected, Mover.staff),
        (S.accepted, S.deferred, Mover.staff),
        (S.resolved, S.reopened, Mover.resident),
        (S.closed, S.reopened, Mover.resident),
    ],
)
def test_the_main_moves_are_allowed_for_the_right_side(current, target, mover):
    assert lifecycle.mover_of(current, target) is mover


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.new, S.resolved),  # nobody accepted it
        (S.new, S.closed),
        (S.closed, S.accepted),
        (S.resolved, S.in_progress),
        (S.in_progress, S.new),
        (S.new, S.reopened),
        (S.accepted, S.accepted),
    ],
)
def test_other_moves_are_not_allowed(current, target):
    assert lifecycle.mover_of(current, target) is None


def test_rejected_is_final():
    assert lifecycle.allowed_targets(S.rejected) == []


def test_every_status_but_rejected_has_a_way_on():
    stuck = [s for s in S if not lifecycle.allowed_targets(s)]
    assert stuck == [S.rejected]


def test_the_deadline_is_the_categorys_unless_it_is_an_emergency():
    lift = 24 * 60
    assert deadlines.deadline_for(T0, category_minutes=lift, emergency=False) == T0 + timedelta(days=1)
    assert deadlines.deadline_for(T0, category_minutes=lift, emergency=True) == T0 + timedelta(minutes=30)
    # An emergency never loosens a category that is tighter already.
    assert deadlines.deadline_for(T0, category_minutes=10, emergency=True) == T0 + timedelta(minutes=10)


def test_reopening_is_possible_for_seven_days_after_resolution():
    week = timedelta(days=7)
    assert lifecycle.may_reopen(T0, T0 + week, week)
    assert not lifecycle.may_reopen(T0, T0 + week + timedelta(seconds=1), week)
    assert not lifecycle.may_reopen(None, T0, week)


def test_a_local_day_starts_at_midnight_in_tashkent():
    # 20:30 UTC is 01:30 the next morning in Tashkent (UTC+5).
    today = clock.local_day(datetime(2026, 11, 17, 20, 30, tzinfo=UTC), "Asia/Tashkent")
    start = clock.local_midnight(today, "Asia/Tashkent")
    assert today == date(2026, 11, 18)
    assert start == datetime(2026, 11, 17, 19, 0, tzinfo=UTC)


def test_a_deferred_request_comes_back_at_eight_in_the_morning_city_time():
    back = deadlines.deferred_until(date(2026, 11, 20), "Asia/Tashkent")
    assert back == datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 08:00 in Tashkent (UTC+5)


def test_a_request_is_escalated_once_overdue_longer_than_the_setting():
    deadline = T0
    cutoff = deadlines.escalation_cutoff(T0 + timedelta(days=3, minutes=1), timedelta(days=3))
    assert deadline < cutoff
    assert not deadlines.is_late(deadline, T0) and deadlines.is_late(deadline, T0 + timedelta(seconds=1))
