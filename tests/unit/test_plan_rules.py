"""Whether an instalment plan holds on a day (billing.ledger.plans), pure."""

from datetime import date, timedelta

import pytest

from billing.ledger.plans import PlanState, check_schedule, standing_on

AGREED = date(2026, 12, 1)
SCHEDULE = [(date(2026, 12, 10), 300), (date(2027, 1, 10), 300), (date(2027, 2, 10), 400)]
D = timedelta(days=1)


def on(day: date, payments, **kw):
    return standing_on(day, agreed_on=AGREED, schedule=SCHEDULE, payments=payments, **kw)


def test_the_plan_holds_from_the_day_after_it_was_agreed():
    standing = on(AGREED, [])
    assert standing.state is PlanState.active
    assert not standing.holds_on(AGREED, AGREED)  # that day's penalty began with the day
    assert on(AGREED + D, []).holds_on(AGREED, AGREED + D)


def test_an_instalment_unpaid_by_the_end_of_its_day_ends_the_plan_the_day_after():
    due = SCHEDULE[0][0]
    assert on(due, []).state is PlanState.active  # still the due day
    missed = on(due + D, [])
    assert (missed.state, missed.ended_on, missed.missed_position) == (PlanState.missed, due + D, 1)
    assert not missed.holds_on(AGREED, due + D)
    assert on(due + D, [(due, 299)]).state is PlanState.missed  # one tiyin short
    assert on(due + D, [(due, 300)]).state is PlanState.active
    # Paid on the day after: too late, whenever it is asked.
    assert on(due + 5 * D, [(due + D, 300)]).ended_on == due + D


def test_instalments_are_judged_on_the_running_total():
    second = SCHEDULE[1][0]
    paid_ahead = [(AGREED + D, 600)]
    assert on(second + D, paid_ahead).state is PlanState.active
    late_second = [(SCHEDULE[0][0], 300), (second + D, 300)]
    assert on(second + 2 * D, late_second).missed_position == 2


def test_paid_in_full_the_plan_ends_kept_the_day_after():
    payments = [(date(2026, 12, 5), 300), (date(2027, 1, 3), 700)]
    assert on(date(2027, 1, 3), payments).state is PlanState.active  # not known until the day is over
    kept = on(date(2027, 1, 4), payments)
    assert (kept.state, kept.ended_on, kept.paid_minor) == (PlanState.kept, date(2027, 1, 4), 1000)
    # A later day, a missed instalment can no longer happen.
    assert on(date(2027, 6, 1), payments).state is PlanState.kept


def test_payments_are_taken_in_any_order_and_refunds_count_against():
    payments = [(date(2027, 1, 3), 700), (date(2026, 12, 5), 300)]
    assert on(date(2027, 1, 4), payments).state is PlanState.kept
    refunded = [(date(2026, 12, 5), 300), (date(2026, 12, 6), -100)]
    assert on(date(2026, 12, 11), refunded).missed_position == 1  # 200 net by the first due day
    assert on(date(2026, 12, 11), [*refunded, (date(2026, 12, 10), 100)]).state is PlanState.active


def test_a_cancelled_plan_holds_through_its_cancellation_day():
    cancelled = on(date(2026, 12, 6), [], cancelled_from=date(2026, 12, 6))
    assert (cancelled.state, cancelled.ended_on) == (PlanState.cancelled, date(2026, 12, 6))
    assert on(date(2026, 12, 5), [], cancelled_from=date(2026, 12, 6)).holds_on(AGREED, date(2026, 12, 5))
    # Missed before it was cancelled: it stays missed.
    assert on(date(2026, 12, 20), [], cancelled_from=date(2026, 12, 15)).state is PlanState.missed


def test_the_answer_for_a_day_does_not_change_with_what_came_later():
    payments = [(date(2026, 12, 10), 300), (date(2027, 1, 12), 700)]
    days = [AGREED + n * D for n in range(120)]
    day_by_day = [on(day, [p for p in payments if p[0] < day]).holds_on(AGREED, day) for day in days]
    all_known = [on(day, payments).holds_on(AGREED, day) for day in days]
    assert day_by_day == all_known
    assert all_known.index(False, 1) == days.index(date(2027, 1, 11))  # missed the second


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ([], "at least one instalment"),
        ([(date(2026, 12, 10), 0), (date(2027, 1, 10), 1000)], "instalment 1 must be more than zero"),
        ([(date(2026, 12, 10), 1200), (date(2027, 1, 10), -200)], "instalment 2 must be more than zero"),
        ([(AGREED, 1000)], "due after today"),
        ([(AGREED - D, 1000)], "due after today"),
        ([(date(2027, 1, 10), 500), (date(2027, 1, 10), 500)], "due after instalment 1"),
        ([(date(2027, 1, 10), 500), (date(2026, 12, 10), 500)], "due after instalment 1"),
        ([(date(2027, 1, 10), 999)], "add up to 999 tiyin; the debt covered is 1000"),
        ([(date(2027, 1, 10), 1001)], "add up to 1001"),
    ],
)
def test_a_schedule_must_be_positive_ascending_after_today_and_add_up(schedule, problem):
    assert problem in check_schedule(schedule, today=AGREED, covered_minor=1000)


def test_a_good_schedule_passes():
    assert check_schedule(SCHEDULE, today=AGREED, covered_minor=1000) is None
    assert check_schedule([(AGREED + D, 1000)], today=AGREED, covered_minor=1000) is None
