from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from housing.accounts.models import Role
from housing.app import API_PREFIX
from sensors.meters.service import replace_meter
from sensors.models import ReadingSource
from sensors.usage.averages import average_monthly, chain_average_monthly
from sensors.usage.consumption import MeterSegment, chain_consumption, consumption
from sensors.usage.points import flag_backwards
from sensors.usage.series import meter_average, meter_consumption
from tests.factories.core import login, make_building, make_company, make_user
from tests.factories.readings import add_readings, make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")


def at(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def points(*rows):
    """Points as `sensors.meters.service.effective_readings` gives them: (taken_at, value[, verdict])."""
    return flag_backwards((row[0], Decimal(row[1]), "mqtt", row[2] if len(row) > 2 else None) for row in rows)


def test_both_boundaries_are_interpolated_between_the_nearest_readings():
    # 1 m3 a day until 11 November, then 2 m3 a day.
    series = points((at(10, 21), "100"), (at(11, 11), "121"), (at(12, 11), "181"))

    result = consumption(series, at(11, 1), at(12, 1))

    assert result.how == "metered"
    assert result.quantity == Decimal("50.000")
    assert (result.start.value, result.start.how) == (Decimal(111), "interpolated")
    assert (result.end.value, result.end.how) == (Decimal(161), "interpolated")


def test_readings_exactly_on_the_boundaries_are_used_as_read():
    series = points((at(11, 1), "12.345"), (at(11, 20), "20"), (at(12, 1), "23.456"))

    result = consumption(series, at(11, 1), at(12, 1))

    assert result.quantity == Decimal("11.111")
    assert result.start.how == result.end.how == "read"


def test_a_period_inside_one_reading_interval_gets_its_share_of_it():
    series = points((at(11, 1), "10"), (at(11, 4), "20"))

    result = consumption(series, at(11, 2), at(11, 3))

    assert result.quantity == Decimal("3.333")  # a third of 10 m3


def test_the_quantity_is_rounded_half_up_once_at_the_end():
    series = points((at(11, 1, 0), "0"), (at(11, 1, 2), "0.001"))

    assert consumption(series, at(11, 1, 0), at(11, 1, 1)).quantity == Decimal("0.001")  # 0.0005


def test_a_period_end_11_days_after_the_last_reading_has_no_value_and_says_why():
    # Read on the 20th of each month: 1 December is 11 days past the last reading, far beyond
    # the day a smart meter's boundary may be extended over (it once was, and billed as metered).
    series = points((at(10, 20), "100"), (at(11, 20), "131"))

    result = consumption(series, at(11, 1), at(12, 1))

    assert (result.how, result.quantity) == ("insufficient", None)
    assert (result.start.value, result.start.how) == (Decimal(112), "interpolated")
    assert "no reading within 24 hours of 2026-12-01" in result.reason
    # The same meter read by hand: November's reading minus October's, no boundary involved.
    manual = consumption(series, at(11, 1), at(12, 1), manual=True, timezone="UTC")
    assert (manual.how, manual.quantity, manual.covers) == ("metered", Decimal(31), 1)


def test_missing_readings_make_the_period_insufficient_with_no_quantity():
    series = points((at(9, 1), "100"), (at(10, 1), "130"))

    result = consumption(series, at(11, 1), at(12, 1))

    assert result.how == "insufficient"
    assert result.quantity is None
    assert "no reading within 24 hours" in result.reason
    assert consumption([], at(11, 1), at(12, 1)).how == "insufficient"


def test_a_backwards_reading_is_excluded_and_listed():
    series = points((at(11, 1), "500"), (at(11, 11), "50"), (at(12, 1), "530"))

    result = consumption(series, at(11, 1), at(12, 1))

    assert result.quantity == Decimal("30.000")
    assert [(p.taken_at, p.value) for p in result.excluded] == [(at(11, 11), Decimal(50))]


def test_a_wrapped_register_counts_only_once_staff_confirm_the_rollover():
    unreviewed = points((at(11, 1), "99990"), (at(11, 16), "5"), (at(12, 1), "20"))
    confirmed = points((at(11, 1), "99990"), (at(11, 16), "5", "rollover"), (at(12, 1), "20"))

    before = consumption(unreviewed, at(11, 1), at(12, 1), digits=5)
    after = consumption(confirmed, at(11, 1), at(12, 1), digits=5)

    assert before.how == "insufficient"
    assert len(before.excluded) == 2
    assert after.quantity == Decimal("30.000")  # 99990 -> 100000 -> 100020
    assert after.end.value == Decimal(100020)
    # With the register's digits unknown, the wrap is the power of ten above the last value.
    assert consumption(confirmed, at(11, 1), at(12, 1)).quantity == Decimal("30.000")


def test_a_reading_staff_call_an_error_stays_excluded():
    series = points((at(11, 1), "500"), (at(11, 11), "50", "error"), (at(12, 1), "530"))

    result = consumption(series, at(11, 1), at(12, 1))

    assert result.quantity == Decimal("30.000")
    assert [p.verdict for p in result.excluded] == ["error"]


def test_a_register_replaced_mid_period_adds_both_series():
    series = points(
        (at(11, 1), "500"),
        (at(11, 15), "520"),
        (at(11, 15, 12), "3", "replacement"),
        (at(12, 1), "13"),
    )

    result = consumption(series, at(11, 1), at(12, 1))

    assert result.quantity == Decimal("30.000")  # 20 on the old register, 10 on the new


def test_a_meter_replaced_mid_period_sums_each_meters_part():
    old = MeterSegment(
        points=points((at(10, 22), "490"), (at(11, 11), "510")),  # 1 m3 a day
        installed_at=at(1, 1),
        initial_value=Decimal(0),
        removed_at=at(11, 15),
        final_value=Decimal(520),
        meter_id=1,
    )
    new = MeterSegment(
        points=points((at(11, 25), "7"), (at(12, 5), "12")),
        installed_at=at(11, 15),
        initial_value=Decimal(2),
        meter_id=2,
    )

    result = chain_consumption([old, new], at(11, 1), at(12, 1))

    assert result.how == "metered"
    assert result.quantity == Decimal("28.000")
    assert [(p.meter_id, p.quantity) for p in result.parts] == [(1, Decimal("20.000")), (2, Decimal("8.000"))]
    assert result.parts[0].end.how == result.parts[1].start.how == "read"  # final and initial values


def test_a_chain_starts_metering_at_the_first_installation():
    new = MeterSegment(points=points((at(11, 30), "10")), installed_at=at(11, 10), initial_value=Decimal(0))

    result = chain_consumption([new], at(11, 1), at(11, 30))

    assert result.quantity == Decimal("10.000")
    assert result.start.at == at(11, 10)


def test_a_period_without_any_installed_meter_is_insufficient():
    meter = MeterSegment(points=(), installed_at=at(11, 10), initial_value=Decimal(0))

    assert chain_consumption([meter], at(10, 1), at(11, 1)).how == "insufficient"


def monthly(*values: str, first: date = date(2026, 7, 1)):
    """Readings at local midnight on the first of consecutive months."""
    rows = []
    for i, value in enumerate(values):
        month = first.month - 1 + i
        day = date(first.year + month // 12, month % 12 + 1, 1)
        rows.append((datetime(day.year, day.month, 1, tzinfo=TASHKENT).astimezone(UTC), value))
    return points(*rows)


def test_average_monthly_consumption_over_the_metered_months():
    series = monthly("0", "10", "25", "30")  # July, August, September: 10, 15 and 5 m3

    assert average_monthly(series, before=date(2026, 10, 15)) == Decimal("10.000")


def test_average_needs_three_months_of_history():
    series = monthly("10", "25", "30", first=date(2026, 8, 1))  # August and September only

    assert average_monthly(series, before=date(2026, 10, 1)) is None
    assert average_monthly(series, before=date(2026, 10, 1), min_months=2) == Decimal("10.000")


def test_average_runs_across_a_meter_replacement():
    removed = datetime(2026, 9, 10, tzinfo=TASHKENT)
    old = MeterSegment(
        points=monthly("100", "110", "125"),  # July 10, August 15
        installed_at=datetime(2025, 1, 1, tzinfo=TASHKENT),
        initial_value=Decimal(0),
        removed_at=removed,
        final_value=Decimal(127),
    )
    new = MeterSegment(
        points=monthly("3", first=date(2026, 10, 1)),
        installed_at=removed,
        initial_value=Decimal(0),
    )

    # September: 2 on the old meter and 3 on the new one.
    assert chain_average_monthly([old, new], before=date(2026, 10, 1)) == Decimal("10.000")


def test_a_period_must_be_aware_and_in_order():
    with pytest.raises(ValueError):
        consumption([], at(11, 2), at(11, 1))
    with pytest.raises(ValueError):
        consumption([], datetime(2026, 11, 1), datetime(2026, 12, 1))


# Through the database and the API


def local(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, tzinfo=TASHKENT)


def test_meter_consumption_loads_the_whole_replacement_series(session):
    old = make_meter(session, installed_on=date(2026, 1, 1))
    add_readings(
        session,
        old,
        [(local(9, 1), "400"), (local(10, 22), "490"), (local(10, 30), "10"), (local(11, 11), "510")],
    )
    new = replace_meter(
        session,
        old,
        removed_on=date(2026, 11, 15),
        final_value=Decimal(520),
        serial="NEW-0001",
        today=date(2026, 11, 20),
        initial_value=Decimal(2),
    )
    add_readings(session, new, [(local(11, 25), "7"), (local(12, 5), "12")])

    for meter in (old, new):
        result = meter_consumption(session, meter.id, local(11, 1), local(12, 1))
        assert result.quantity == Decimal("28.000")
        assert [(p.meter_id, p.quantity) for p in result.parts] == [
            (old.id, Decimal("20.000")),
            (new.id, Decimal("8.000")),
        ]
        assert [p.taken_at for p in result.excluded] == [local(10, 30)]


def test_meter_average_counts_the_months_with_readings(session):
    meter = make_meter(session, installed_on=date(2026, 6, 20))
    add_readings(
        session,
        meter,
        [(local(7, 1), "0"), (local(8, 1), "10"), (local(9, 1), "25"), (local(10, 1), "30")],
    )

    assert meter_average(session, meter.id, date(2026, 10, 15)) == Decimal("10.000")
    assert meter_average(session, meter.id, date(2026, 9, 15)) is None  # July and August only


def test_a_manual_meters_average_counts_the_months_with_a_reading_of_their_own(session):
    meter = make_meter(session, smart=False, installed_on=date(2026, 6, 20))
    add_readings(
        session,
        meter,
        [(local(7, 20), "0"), (local(8, 20), "10"), (local(9, 20), "25"), (local(10, 20), "30")],
        source=ReadingSource.manual,
    )

    # August 10, September 15, October 5; July's reading also spans June, when it was fitted.
    assert meter_average(session, meter.id, date(2026, 11, 15)) == Decimal("10.000")
    assert meter_average(session, meter.id, date(2026, 10, 15)) is None


def test_the_consumption_route_answers_the_buildings_staff_only(client, session):
    company, other = make_company(session), make_company(session)
    meter = make_meter(session, building=make_building(session, company))
    add_readings(session, meter, [(at(10, 21), "100"), (at(11, 11), "121"), (at(12, 11), "181")])
    make_user(session, Role.manager, username="ours", company_id=company.id)
    make_user(session, Role.manager, username="theirs", company_id=other.id)
    session.commit()
    url = f"{API_PREFIX}/meters/{meter.id}/consumption"
    period = {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}

    ours = client.get(url, params=period, headers=login(client, "ours"))
    theirs = client.get(url, params=period, headers=login(client, "theirs"))
    backwards = client.get(
        url, params={"start": period["end"], "end": period["start"]}, headers=login(client, "ours")
    )

    assert ours.status_code == 200, ours.text
    body = ours.json()
    assert (body["how"], body["quantity"], body["unit"]) == ("metered", "50.000", "m3")
    # 1 November falls in a 21-day silence: interpolated, 240 hours before the next reading.
    assert body["start_value"] == {
        "at": "2026-11-01T00:00:00Z",
        "value": "111.000",
        "how": "interpolated",
        "estimated_hours": "240.0",
    }
    assert (body["label"], body["estimated_hours"], body["rule"]) == ("metered_estimated", "720.0", "smart")
    assert theirs.status_code == 404
    assert backwards.status_code == 422


def test_an_hour_long_slope_never_fills_a_month_or_a_day():
    # The meter: silent from the 1st, its last two readings an hour apart (a burst).
    series = points((at(11, 1, 0), "100"), (at(11, 1, 1), "103"))
    assert consumption(series, at(11, 1), at(12, 1)).how == "insufficient"
    # Within the tolerance, the hour still may not stand for the 20 hours after it.
    short = consumption(series, at(11, 1), at(11, 1, 21))
    assert short.how == "insufficient"
    assert "span 1 hours, less than the 20 hours to extend over" in short.reason
    # An idle last hour (no change) does not make the day's end free either: the rate is
    # the mean since the month's start, not the last hour's.
    month = points(
        (at(10, 31, 23), "0"), (at(11, 1, 1), "10"), (at(11, 30, 11), "714"), (at(11, 30, 12), "714")
    )
    result = consumption(month, at(11, 1), at(12, 1))
    assert (result.end.how, result.end.estimated_hours) == ("extrapolated", Decimal("12.0"))
    # 5 at the start (interpolated), 714 at 29.5 days: 709 / 708 h more for 12 h past 714.
    assert result.end.value.quantize(Decimal("0.000001")) == Decimal("726.016949")  # 714 + 709 x 12 / 708


@pytest.mark.parametrize(
    ("last_reading", "how", "hours"),
    [
        (at(11, 30, 0), "metered", Decimal("24.0")),  # exactly the tolerance: extended
        (at(11, 29, 23), "insufficient", None),  # an hour past it: no value at that end
        (at(11, 30, 23), "metered", Decimal("1.0")),
    ],
)
def test_a_boundary_is_extended_up_to_the_tolerance_and_not_past_it(last_reading, how, hours):
    series = points((at(10, 31, 12), "0"), (at(11, 1, 12), "24"), (last_reading, "700"))

    result = consumption(series, at(11, 1), at(12, 1))

    assert (result.how, result.estimated_hours) == (how, hours)
    assert consumption(series, at(11, 1), at(12, 1), tolerance=timedelta(hours=25)).how == "metered"


def test_a_boundary_inside_a_long_silence_is_interpolated_and_counted_as_estimated():
    series = points((at(10, 29), "0"), (at(11, 3), "120"), (at(11, 30, 12), "768"), (at(11, 30, 18), "771"))

    result = consumption(series, at(11, 1), at(12, 1))

    # 1 November lies in a 5-day silence: 48 hours before the next reading; 1 December is
    # 6 hours past the last, extended at the month's mean rate.
    assert (result.start.how, result.start.estimated_hours) == ("interpolated", Decimal("48.0"))
    assert (result.end.how, result.end.estimated_hours) == ("extrapolated", Decimal("6.0"))
    assert result.estimated_hours == Decimal("54.0")
