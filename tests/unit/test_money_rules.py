"""The building money's pure arithmetic: quarters, deadlines and the exact split."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from housing.building_money.rules import Quarter, quarters_between, split_exactly


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (date(2026, 1, 1), Quarter(2026, 1)),
        (date(2026, 3, 31), Quarter(2026, 1)),
        (date(2026, 4, 1), Quarter(2026, 2)),
        (date(2026, 9, 30), Quarter(2026, 3)),
        (date(2026, 12, 31), Quarter(2026, 4)),
    ],
)
def test_the_quarter_of_a_day(day, quarter):
    assert Quarter.of(day) == quarter
    assert quarter.contains(day)
    assert not quarter.previous().contains(day) and not quarter.next().contains(day)


def test_quarter_bounds_and_deadline():
    q4 = Quarter(2026, 4)
    assert (q4.first_day, q4.last_day, q4.end) == (date(2026, 10, 1), date(2026, 12, 31), date(2027, 1, 1))
    assert q4.next() == Quarter(2027, 1) and Quarter(2027, 1).previous() == q4
    assert Quarter(2026, 1).due_on(30) == date(2026, 4, 30)
    assert q4.due_on(30) == date(2027, 1, 30)
    assert not q4.is_over(date(2026, 12, 31)) and q4.is_over(date(2027, 1, 1))
    assert quarters_between(Quarter(2026, 3), Quarter(2027, 2)) == [
        Quarter(2026, 3),
        Quarter(2026, 4),
        Quarter(2027, 1),
        Quarter(2027, 2),
    ]
    assert quarters_between(Quarter(2027, 1), Quarter(2026, 4)) == []


@pytest.mark.parametrize("text", ["2026-Q3", " 2026-Q3 "])
def test_a_quarter_is_read_from_its_label(text):
    assert Quarter.parse(text) == Quarter(2026, 3) and str(Quarter(2026, 3)) == "2026-Q3"


@pytest.mark.parametrize("text", ["2026-Q0", "2026-Q5", "2026Q3", "26-Q3", "", "2026-q3\x00", "9999999-Q1"])
def test_anything_else_is_not_a_quarter(text):
    with pytest.raises(ValueError, match="YYYY-QN"):
        Quarter.parse(text)


@pytest.mark.parametrize(
    ("total", "weights"),
    [
        (100, {1: 1, 2: 1, 3: 1}),
        (1, {5: Decimal("30.5"), 2: Decimal("30.5")}),
        (10_000_001, {1: Decimal("54.30"), 2: Decimal("61.12"), 3: Decimal("0.01"), 4: Decimal("1200.00")}),
        (7, {i: Fraction(1, i) for i in range(1, 12)}),
        (9_000_000_000_000_000, {1: Decimal("0.01"), 2: Decimal("99999999.99")}),
    ],
)
def test_a_split_adds_up_to_the_whole_and_stays_within_a_tiyin_of_the_exact_share(total, weights):
    parts = split_exactly(total, weights)
    assert sum(parts.values()) == total and set(parts) == set(weights)
    whole = sum(Fraction(w) for w in weights.values())
    for key, part in parts.items():
        assert abs(Fraction(part) - total * Fraction(weights[key]) / whole) < 1


def test_the_left_over_tiyin_go_to_the_largest_remainders_then_the_lower_id():
    assert split_exactly(100, {3: 1, 1: 1, 2: 1}) == {1: 34, 2: 33, 3: 33}
    # 10 by 1:2:2 is 2, 4, 4 exactly; 11 leaves one tiyin for the largest remainder (0.4 vs 0.2)
    assert split_exactly(11, {1: 1, 2: 2, 3: 2}) == {1: 2, 2: 5, 3: 4}
    assert split_exactly(11, {3: 2, 2: 2, 1: 1}) == split_exactly(11, {1: 1, 2: 2, 3: 2})


@pytest.mark.parametrize(
    ("total", "weights"), [(0, {1: 1}), (-5, {1: 1}), (5, {}), (5, {1: 0}), (5, {1: 1, 2: -1})]
)
def test_nothing_is_split_that_cannot_be(total, weights):
    with pytest.raises(ValueError):
        split_exactly(total, weights)
