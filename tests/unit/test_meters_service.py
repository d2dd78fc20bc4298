"""The meters service: registration, replacement, manual readings, corrections, reviews, effective values."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from housing.accounts.models import Role
from housing.errors import Conflict, Forbidden, Invalid
from sensors.meters import service
from sensors.models import Meter, MeterKind, Reading, ReadingCorrection
from sensors.usage.points import EffectivePoint, flag_backwards
from tests.factories.core import make_apartment, make_building, make_user
from tests.factories.sensors import add_reading, make_meter

T0 = datetime(2026, 10, 1, tzinfo=UTC)
TZ = "Asia/Tashkent"
WINDOW = (15, 25)


def hours(n: int) -> datetime:
    return T0 + timedelta(hours=n)


def values(points: list[EffectivePoint]) -> list[tuple[Decimal, bool, bool]]:
    return [(p.value, p.backwards, p.counts) for p in points]


@pytest.fixture
def staff(session: Session) -> int:
    return make_user(session, Role.admin).id


# The backwards rule, pure


def test_a_lower_value_is_backwards_and_later_values_compare_with_the_last_that_counts():
    rows = [(hours(i), Decimal(v), "mqtt", None) for i, v in enumerate(["10", "12", "11", "11.5", "13"])]

    points = flag_backwards(rows)

    assert [(p.backwards, p.counts) for p in points] == [
        (False, True),
        (False, True),
        (True, False),  # 11 < 12
        (True, False),  # 11.5 < 12: compared with 12, the last that counts, not with 11
        (False, True),
    ]


def test_a_confirmed_rollover_counts_and_restarts_the_comparison():
    rows = [
        (hours(0), Decimal("99990"), "mqtt", None),
        (hours(1), Decimal("5"), "mqtt", "rollover"),
        (hours(2), Decimal("7"), "mqtt", None),
        (hours(3), Decimal("3"), "mqtt", "error"),
    ]

    assert [(p.backwards, p.counts) for p in flag_backwards(rows)] == [
        (False, True),
        (True, True),
        (False, True),
        (True, False),
    ]


# Registration and replacement


def test_a_meter_takes_its_unit_from_its_kind_and_its_building_from_its_apartment(session):
    apartment = make_apartment(session)

    meter = make_meter(session, apartment, kind=MeterKind.electricity)

    assert (meter.unit, meter.building_id, meter.apartment_id) == ("kWh", apartment.building_id, apartment.id)


def test_registration_refuses_a_taken_serial_and_an_apartment_of_another_building(session):
    apartment = make_apartment(session)
    other = make_building(session)
    make_meter(session, apartment, serial="CW-1")

    with pytest.raises(Conflict, match="serial 'CW-1' is already registered"):
        make_meter(session, apartment, serial="CW-1")
    with pytest.raises(Invalid, match=f"apartment {apartment.id} is in building {apartment.building_id}"):
        make_meter(session, apartment, building=other)


def test_replacement_closes_the_old_meter_and_starts_a_new_series(session):
    old = make_meter(session, initial_value=Decimal("100"))
    add_reading(session, old, hours(0), "150.5")

    new = service.replace_meter(
        session,
        old,
        removed_on=date(2026, 10, 5),
        final_value=Decimal("151"),
        serial="NEW-1",
        today=date(2026, 10, 5),
    )

    assert (old.removed_on, old.final_value, old.replaced_by_id) == (
        date(2026, 10, 5),
        Decimal("151"),
        new.id,
    )
    assert (new.kind, new.apartment_id, new.installed_on, new.initial_value) == (
        old.kind,
        old.apartment_id,
        date(2026, 10, 5),
        Decimal(0),
    )
    assert service.effective_readings(session, new.id) == []
    assert (
        service.replacement_chain(session, new) == service.replacement_chain(session, old) == [old.id, new.id]
    )


def test_replacement_refuses_a_final_value_below_the_latest_reading_and_a_removed_meter(session):
    meter = make_meter(session)
    add_reading(session, meter, hours(0), "150.5")
    replace = {"removed_on": date(2026, 10, 5), "today": date(2026, 10, 5)}

    with pytest.raises(Invalid, match=r"final_value 150.000 m3 is below the latest reading, 150.500 m3"):
        service.replace_meter(session, meter, final_value=Decimal("150"), serial="NEW-2", **replace)
    new = service.replace_meter(session, meter, final_value=Decimal("150.5"), serial="NEW-2", **replace)
    with pytest.raises(Conflict, match=f"already removed on 2026-10-05, replaced by meter {new.id}"):
        service.replace_meter(session, meter, final_value=Decimal("151"), serial="NEW-3", **replace)


# Effective readings


def test_a_correction_changes_the_effective_value_and_keeps_the_reading(session, staff):
    meter = make_meter(session)
    add_reading(session, meter, hours(0), "10")
    wrong = add_reading(session, meter, hours(1), "1200", source="manual")
    add_reading(session, meter, hours(2), "14")

    service.correct_reading(
        session, wrong, value=Decimal("12"), reason="resident typed 1200 for 12.00", user_id=staff
    )
    service.correct_reading(session, wrong, value=Decimal("12.5"), reason="photo shows 12.5", user_id=staff)

    assert values(service.effective_readings(session, meter.id)) == [
        (Decimal("10"), False, True),
        (Decimal("12.5"), False, True),  # the newest correction wins
        (Decimal("14"), False, True),  # no longer backwards against 1200
    ]
    session.expire_all()
    assert session.get(Reading, (meter.id, hours(1))).value == Decimal("1200")
    assert len(session.exec(select(ReadingCorrection)).all()) == 2


def test_a_backwards_reading_counts_only_after_staff_confirm_a_rollover(session, staff):
    meter = make_meter(session, digits=5)
    add_reading(session, meter, hours(0), "99990")
    wrapped = add_reading(session, meter, hours(1), "4")
    add_reading(session, meter, hours(2), "9")

    assert values(service.effective_readings(session, meter.id)) == [
        (Decimal("99990"), False, True),
        (Decimal("4"), True, False),
        (Decimal("9"), True, False),
    ]

    review = service.review_reading(
        session, wrapped, verdict="rollover", reason="register wrapped", user_id=staff
    )

    assert review.verdict == "rollover"
    points = service.effective_readings(session, meter.id)
    assert values(points) == [
        (Decimal("99990"), False, True),
        (Decimal("4"), True, True),
        (Decimal("9"), False, True),
    ]
    assert points[1].verdict == "rollover"


def test_a_review_is_refused_for_a_reading_that_did_not_go_backwards_or_was_reviewed(session, staff):
    meter = make_meter(session)
    fine = add_reading(session, meter, hours(0), "10")
    bad = add_reading(session, meter, hours(1), "3")
    service.review_reading(session, bad, verdict="error", reason="", user_id=staff)

    with pytest.raises(Conflict, match="did not go backwards"):
        service.review_reading(session, fine, verdict="rollover", reason="", user_id=staff)
    with pytest.raises(Conflict, match=r"already reviewed \(error\)"):
        service.review_reading(session, bad, verdict="rollover", reason="", user_id=staff)


def test_a_period_sees_the_readings_before_it_when_flagging(session, staff):
    meter = make_meter(session)
    series = ["10", "20", "15", "18", "25", "5", "8", "30"]
    readings = [add_reading(session, meter, hours(i), v) for i, v in enumerate(series)]
    service.review_reading(session, readings[5], verdict="replacement", reason="", user_id=staff)
    service.correct_reading(session, readings[1], value=Decimal("16"), reason="misread", user_id=staff)
    whole = service.effective_readings(session, meter.id)

    for start in range(len(series) + 1):
        for end in range(start, len(series) + 1):
            part = service.effective_readings(session, meter.id, hours(start), hours(end))
            assert part == whole[start:end], (start, end)
    assert [p.backwards for p in whole] == [False, False, True, False, False, True, False, False]
    assert service.latest_counting_value(session, meter.id) == Decimal("30")
    assert service.latest_counting_value(session, meter.id, before=hours(7)) == Decimal("8")
    assert service.latest_counting_value(session, meter.id, before=hours(5)) == Decimal("25")


# Manual readings


def submit(session, meter: Meter, value: str, when: datetime, by_resident: bool = True, window=WINDOW):
    return service.submit_reading(
        session, meter, value=Decimal(value), now=when, timezone=TZ, by_resident=by_resident, window=window
    )


def test_a_resident_submits_inside_the_window_in_tashkent_time(session):
    meter = make_meter(session, smart=False)
    # 19:30 UTC on the 25th is already the 26th in Tashkent (UTC+5).
    late = datetime(2026, 10, 25, 19, 30, tzinfo=UTC)

    with pytest.raises(Invalid, match=r"from day 15 to day 25 of each month; today is 2026-10-26"):
        submit(session, meter, "5", late)
    reading = submit(session, meter, "5", late - timedelta(hours=1))

    assert (reading.source, reading.value, reading.taken_at) == (
        "manual",
        Decimal("5"),
        late - timedelta(hours=1),
    )


def test_a_window_may_run_across_the_end_of_the_month(session):
    meter = make_meter(session, smart=False)

    submit(session, meter, "5", datetime(2026, 10, 31, 6, tzinfo=UTC), window=(28, 3))
    submit(session, meter, "6", datetime(2026, 11, 2, 6, tzinfo=UTC), window=(28, 3))
    with pytest.raises(Invalid, match="from day 28 to day 3"):
        submit(session, meter, "7", datetime(2026, 11, 4, 6, tzinfo=UTC), window=(28, 3))


def test_a_resident_reading_may_not_go_backwards_or_come_twice_a_day(session):
    meter = make_meter(session, smart=False, initial_value=Decimal("3"))
    day = datetime(2026, 10, 20, 5, tzinfo=UTC)

    with pytest.raises(Invalid, match=r"2.000 m3 is lower than the meter's initial value, 3.000 m3"):
        submit(session, meter, "2", day)
    submit(session, meter, "40.5", day)
    with pytest.raises(Conflict, match="already submitted today"):
        submit(session, meter, "41", day + timedelta(hours=3))
    with pytest.raises(Invalid, match=r"40.000 m3 is lower than the latest reading, 40.500 m3"):
        submit(session, meter, "40", day + timedelta(days=1))


def test_staff_may_enter_any_day_and_a_backwards_value_is_kept_flagged(session):
    meter = make_meter(session, smart=True)
    add_reading(session, meter, hours(0), "50")

    reading = submit(session, meter, "45", datetime(2026, 10, 3, 6, tzinfo=UTC), by_resident=False)

    assert reading.source == "manual"
    assert [p.backwards for p in service.effective_readings(session, meter.id)] == [False, True]


def test_a_resident_does_not_submit_for_a_smart_or_removed_meter(session):
    smart = make_meter(session, smart=True)
    removed = make_meter(session, smart=False)
    service.replace_meter(
        session,
        removed,
        removed_on=date(2026, 10, 1),
        final_value=Decimal(0),
        serial="R-2",
        today=date(2026, 10, 1),
    )
    day = datetime(2026, 10, 20, 5, tzinfo=UTC)

    with pytest.raises(Forbidden, match="smart meter"):
        submit(session, smart, "1", day)
    with pytest.raises(Conflict, match="was removed on 2026-10-01"):
        submit(session, removed, "1", day)
