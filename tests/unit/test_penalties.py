"""Late-payment penalties: 0.1% a day of the overdue amount, at most 50% of the month's charge."""

from datetime import date
from decimal import Decimal

import pytest

from billing.ledger.penalties import (
    DEFAULT_PENALTIES,
    PenaltyRules,
    due_date,
    is_late,
    penalty_days,
    penalty_for_day,
)
from housing.settings import BillingSettings


def test_a_month_is_due_on_the_15th_of_the_next_month():
    assert due_date(date(2025, 11, 1)) == date(2025, 12, 15)
    assert due_date(date(2025, 11, 30)) == date(2025, 12, 15)
    assert due_date(date(2025, 12, 1)) == date(2026, 1, 15)


def test_penalty_days_start_the_day_after_the_due_date():
    due = date(2025, 12, 15)

    assert penalty_days(due, date(2025, 12, 10)) == 0
    assert penalty_days(due, due) == 0
    assert penalty_days(due, date(2025, 12, 16)) == 1
    assert penalty_days(due, date(2026, 1, 15)) == 31


def test_a_day_is_a_tenth_of_a_percent_of_the_overdue_amount():
    assert penalty_for_day(1_000_000, 1_000_000, 0) == 1_000
    # Only what is still overdue counts, not the whole month's charge.
    assert penalty_for_day(400_000, 1_000_000, 0) == 400


def test_a_day_is_rounded_half_up():
    assert penalty_for_day(1_500, 1_500, 0) == 2  # 1.5 tiyin
    assert penalty_for_day(1_499, 1_499, 0) == 1  # 1.499 tiyin
    assert penalty_for_day(2_500, 2_500, 0) == 3  # half up, not to even


def test_penalties_accrue_to_half_the_months_charge_and_stop():
    # 123,457 tiyin overdue: 123.457 a day -> 123; the cap is 61,728.5 -> 61,728.
    overdue = charge = 123_457
    accrued, days = 0, []
    for _ in range(600):
        day = penalty_for_day(overdue, charge, accrued)
        days.append(day)
        accrued += day

    assert accrued == 61_728
    assert days[:501] == [123] * 501  # 61,623 after 501 days
    assert days[501] == 105  # only what is left under the cap
    assert days[502:] == [0] * 98


def test_nothing_when_nothing_is_overdue_or_the_cap_is_already_passed():
    assert penalty_for_day(0, 1_000_000, 0) == 0
    assert penalty_for_day(-5_000, 1_000_000, 0) == 0
    assert penalty_for_day(1_000_000, 1_000_000, 500_000) == 0
    assert penalty_for_day(1_000_000, 1_000_000, 600_000) == 0  # never negative


def test_rate_and_cap_can_be_set():
    assert penalty_for_day(1_000_000, 1_000_000, 0, rate=Decimal("0.002")) == 2_000
    assert penalty_for_day(1_000_000, 1_000_000, 99_500, cap=Decimal("0.1")) == 500
    with pytest.raises(ValueError, match="cannot be negative"):
        penalty_for_day(1_000_000, 1_000_000, 0, rate=Decimal("-0.001"))


def test_an_invoice_issued_late_leaves_the_minimum_time_to_pay():
    october = date(2025, 10, 1)  # due 15 November when issued in time
    assert due_date(october, date(2025, 11, 1), 10) == date(2025, 11, 15)
    assert due_date(october, date(2025, 11, 5), 10) == date(2025, 11, 15)  # exactly 10 days: the 15th
    assert due_date(october, date(2025, 11, 6), 10) == date(2025, 11, 16)  # one day later
    assert due_date(october, date(2025, 11, 20), 10) == date(2025, 11, 30)  # issued after the 15th
    assert due_date(date(2025, 11, 1), date(2025, 12, 31), 10) == date(2026, 1, 10)  # across the year
    assert due_date(date(2025, 12, 1), date(2026, 1, 31), 10) == date(2026, 2, 10)
    assert due_date(october, date(2025, 11, 20), 0) == date(2025, 11, 20)  # no minimum: due the day issued
    assert due_date(october, date(2025, 11, 1), 366) == date(2026, 11, 2)
    assert due_date(october, None, 10) == date(2025, 11, 15)  # not issued yet: the 15th


def test_a_negative_minimum_time_to_pay_is_refused():
    with pytest.raises(ValueError):
        due_date(date(2025, 10, 1), date(2025, 11, 1), -1)


def test_the_rules_from_settings_say_when_a_day_is_late_and_what_it_adds():
    rules = PenaltyRules.of(BillingSettings(penalty_rate=Decimal("0.002"), penalty_cap=Decimal("0.1")))
    due = date(2025, 12, 15)

    assert not is_late(due, due) and is_late(due, date(2025, 12, 16))
    assert rules.for_day(1_000_000, 1_000_000, 0) == 2_000
    assert rules.for_day(1_000_000, 1_000_000, 99_500) == 500  # only what is left under the cap
    assert rules.reference(400_000, date(2025, 12, 16)) == "0.2% of 400000 tiyin overdue on 2025-12-16"
    assert DEFAULT_PENALTIES.percent() == "0.1%"
