"""The metered -> average -> norm choice on plain values (`sensors.usage.estimation`): no database.

The billing run and the one-meter preview load these facts first (the month's consumption,
the months billed by estimate just before, the meter's average, those months' consumption
now) and hand them to the same functions; docs/billing-rules.md has the worked cases.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from sensors.usage.consumption import Boundary, ConsumptionResult
from sensors.usage.estimation import (
    MAX_AVERAGE_PERIODS,
    EstimatedLine,
    averaged,
    estimate_month,
    needs_average,
    recalculate,
    share_by_area,
)

OCTOBER = date(2026, 10, 1)
START = datetime(2026, 9, 30, 19, tzinfo=UTC)  # 1 October, local midnight in Tashkent
END = datetime(2026, 10, 31, 19, tzinfo=UTC)


def metered(quantity: str, *, estimated_end_hours: str | None = None) -> ConsumptionResult:
    """A month worked out from the readings; with `estimated_end_hours`, its end was estimated."""
    hours = None if estimated_end_hours is None else Decimal(estimated_end_hours)
    how = "read" if hours is None else "extrapolated"
    return ConsumptionResult(
        how="metered",
        quantity=Decimal(quantity),
        start=Boundary(START, Decimal(100), "read"),
        end=Boundary(END, Decimal(100) + Decimal(quantity), how, hours),
    )


def silent(reason: str = "no reading within 24 hours of 2026-11-01") -> ConsumptionResult:
    return ConsumptionResult(how="insufficient", quantity=None, start=None, end=None, reason=reason)


def estimated(period: date, source: str = "average", quantity: str = "10", amount_minor: int = 100_000):
    return EstimatedLine(period, source, Decimal(quantity), amount_minor, meter_id=7)


def test_a_month_with_readings_at_both_ends_is_metered() -> None:
    estimate = estimate_month(metered("12.500"), averaged_before=[], average=None)

    assert (estimate.label, estimate.quantity, estimate.estimated_hours) == (
        "metered",
        Decimal("12.500"),
        None,
    )
    assert not needs_average(metered("12.500"), [])


def test_an_end_extended_from_one_side_is_metered_estimated_with_its_hours() -> None:
    result = metered("12.500", estimated_end_hours="12.0")

    estimate = estimate_month(result, averaged_before=[], average=Decimal("10"))

    assert (estimate.label, estimate.quantity) == ("metered_estimated", Decimal("12.500"))
    assert estimate.estimated_hours == Decimal("12.0")  # the readings win over the average


def test_a_silent_month_is_billed_by_the_meter_average() -> None:
    assert needs_average(silent(), [])

    estimate = estimate_month(silent(), averaged_before=[], average=Decimal("10.000"))

    assert (estimate.label, estimate.quantity, estimate.average_period) == ("average", Decimal("10.000"), 1)
    assert estimate.why == "no reading within 24 hours of 2026-11-01"


def test_the_average_bills_at_most_3_months_in_a_row_then_the_norm() -> None:
    before = [date(2026, 9, 1), date(2026, 8, 1)]
    third = estimate_month(silent(), averaged_before=before, average=Decimal("10"))
    assert (third.label, third.average_period) == ("average", 3)

    three = [date(2026, 9, 1), date(2026, 8, 1), date(2026, 7, 1)]
    assert MAX_AVERAGE_PERIODS == 3
    assert not needs_average(silent(), three)  # the average is not even loaded
    fourth = estimate_month(silent(), averaged_before=three, average=None)

    assert (fourth.label, fourth.quantity) == ("norm", None)
    assert "for 3 periods in a row already (2026-07, 2026-08, 2026-09), at most 3" in fourth.why
    assert fourth.why.endswith("so by the norm per resident")


def test_a_norm_month_inside_the_row_does_not_end_it() -> None:
    row = [
        estimated(date(2026, 9, 1)),
        estimated(date(2026, 8, 1), source="norm"),
        estimated(date(2026, 7, 1)),
    ]

    assert averaged(row) == [date(2026, 9, 1), date(2026, 7, 1)]


def test_without_an_average_the_month_is_billed_by_the_norm() -> None:
    estimate = estimate_month(silent(), averaged_before=[], average=None)

    assert (estimate.label, estimate.quantity) == ("norm", None)
    assert estimate.why == (
        "no reading within 24 hours of 2026-11-01; no average: fewer than 3 metered months in the last 12"
    )


def test_readings_resumed_recalculate_the_estimated_months_at_their_tariff() -> None:
    # August and September billed by the average, 10 m3 for 100,000 tiyin each; the readings
    # now show 12 and 6 m3. At 10,000 tiyin a m3 they cost 120,000 and 60,000.
    row = [estimated(date(2026, 9, 1)), estimated(date(2026, 8, 1))]
    actual = {date(2026, 8, 1): metered("12"), date(2026, 9, 1): metered("6", estimated_end_hours="3")}

    settled = recalculate(row, actual, lambda quantity, month: int(quantity * 10_000))

    assert not isinstance(settled, str)
    assert settled.months == (date(2026, 8, 1), date(2026, 9, 1))
    assert settled.quantity == Decimal("18")
    assert settled.amount_minor == (120_000 - 100_000) + (60_000 - 100_000) == -20_000  # a credit
    assert [p["period"] for p in settled.parts] == ["2026-08", "2026-09"]
    assert settled.parts[1]["estimated_hours"] == "3"


def test_a_month_still_without_consumption_leaves_the_row_unsettled() -> None:
    row = [estimated(date(2026, 9, 1)), estimated(date(2026, 8, 1))]
    actual = {date(2026, 8, 1): metered("12"), date(2026, 9, 1): silent("the meter was replaced")}

    settled = recalculate(row, actual, lambda quantity, month: 0)

    assert settled == "2026-09 still has no consumption (the meter was replaced)"


def test_heat_without_a_meter_of_its_own_is_shared_by_area_exactly() -> None:
    # The building's meter: 30 Gcal; the flat has 50 of the building's 180 m2.
    shared = share_by_area(metered("30"), Decimal("50"), Decimal("180"))

    assert not isinstance(shared, str)
    assert shared.share == Fraction(5, 18)
    assert shared.quantity == Fraction(25, 3)  # 8.333... Gcal, rounded only once priced


@pytest.mark.parametrize(
    ("building", "total_area", "why"),
    [
        (silent("no reading within 24 hours"), Decimal("180"), "no reading within 24 hours"),
        (metered("30"), Decimal("0"), "the building's apartments have no area"),
    ],
)
def test_no_share_without_the_buildings_consumption_or_area(building, total_area, why) -> None:
    assert share_by_area(building, Decimal("50"), total_area) == why
