"""The batched consumption gives what `meter_consumption` gives, one meter at a time."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from housing.accounts.models import Role
from sensors.meters.service import correct_reading, replace_meter, review_reading
from sensors.models import BackwardsVerdict, ReadingSource
from sensors.usage.bulk import period_consumption
from sensors.usage.consumption import ConsumptionResult
from sensors.usage.series import meter_consumption
from tests.factories.core import make_user
from tests.factories.readings import add_readings, make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")
START = datetime(2026, 10, 1, tzinfo=TASHKENT)
END = datetime(2026, 11, 1, tzinfo=TASHKENT)


def local(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TASHKENT)


def seen(result: ConsumptionResult) -> tuple:
    """What a bill uses of a result: how, quantity, reason and both boundaries, per part too."""
    parts = tuple((p.meter_id, p.how, p.quantity, p.start, p.end) for p in result.parts)
    return (result.how, result.quantity, result.reason, result.start, result.end, result.extrapolated, parts)


def meters_of_every_kind(session: Session) -> dict[str, int]:
    """One meter per situation the run meets; name -> meter id."""
    made: dict[str, int] = {}

    def meter(name: str, rows: list[tuple[datetime, str]], **kw):
        m = make_meter(session, **kw)
        add_readings(session, m, rows)
        made[name] = m.id
        return m

    meter(
        "daily",
        [(local(9, 30), "90"), *[(local(10, d), str(100 + d)) for d in range(1, 32)], (local(11, 1), "140")],
    )
    meter(
        "manual",
        [(local(8, 20, 19), "50"), (local(9, 19, 19), "61.5"), (local(10, 18, 19), "70.25")],
        smart=False,
    )
    meter("glitch", [(local(9, 25), "10"), (local(10, 10), "5"), (local(10, 20), "30"), (local(11, 3), "45")])
    meter(
        "glitch_at_end",
        [(local(9, 25), "10"), (local(10, 20), "30"), (local(10, 30), "2"), (local(11, 3), "45")],
    )
    meter("spike", [(local(6, 1), "99999"), (local(9, 25), "10"), (local(11, 3), "45")])
    meter("nothing", [])
    meter("one", [(local(10, 5), "10")])
    meter("only_after", [(local(11, 2), "10"), (local(11, 5), "16")])
    meter("far", [(local(5, 1), "10"), (local(5, 20), "16")])
    meter("equal", [(local(9, 25), "10"), (local(10, 1), "10"), (local(10, 15), "10"), (local(11, 1), "12")])
    meter(
        "initial_above",
        [(local(9, 25), "3"), (local(10, 10), "4"), (local(10, 20), "30"), (local(11, 3), "45")],
        initial_value=Decimal(20),
        installed_on=date(2026, 9, 20),
    )
    meter("installed_mid", [(local(10, 20), "5"), (local(11, 3), "9")], installed_on=date(2026, 10, 15))

    # Replaced long ago, and in the middle of October: the successor's id is kept under `key`.
    for name, key, readings, removed_on, final_value, serial, today, successor_readings in (
        (
            "replaced_long_ago",
            "successor",
            [(local(1, 10), "5"), (local(2, 10), "9")],
            date(2026, 3, 1),
            12,
            "NEW-A",
            date(2026, 3, 1),
            [(local(9, 28), "100"), (local(10, 16), "120"), (local(11, 2), "150")],
        ),
        (
            "replaced_mid",
            "successor_mid",
            [(local(9, 1), "400"), (local(10, 10), "430")],
            date(2026, 10, 15),
            450,
            "NEW-B",
            date(2026, 11, 1),
            [(local(10, 25), "7"), (local(11, 5), "12")],
        ),
    ):
        old = meter(name, readings, installed_on=date(2025, 1, 1))
        new = replace_meter(
            session, old, removed_on=removed_on, final_value=Decimal(final_value), serial=serial, today=today
        )
        add_readings(session, new, successor_readings)
        made[key] = new.id

    user = make_user(session, Role.admin)
    corrected = meter("corrected", [(local(9, 25), "10"), (local(10, 20), "9000"), (local(11, 3), "45")])
    reading = add_readings(session, corrected, [(local(10, 25), "35")])[0]
    correct_reading(session, reading, value=Decimal(36), reason="misread", user_id=user.id)
    wrapped = meter("rollover", [(local(9, 25), "99990"), (local(10, 20), "99998")], digits=5)
    (back,) = add_readings(session, wrapped, [(local(11, 3), "12")])
    review_reading(session, back, verdict=BackwardsVerdict.rollover, reason="wrapped", user_id=user.id)
    return made


def test_every_kind_of_meter_gets_the_same_consumption_as_one_by_one(session: Session) -> None:
    made = meters_of_every_kind(session)

    batched = period_consumption(session, made.values(), START, END)

    for name, meter_id in made.items():
        alone = meter_consumption(session, meter_id, START, END)
        assert seen(batched[meter_id]) == seen(alone), name


def test_the_common_cases_are_what_a_person_would_work_out(session: Session) -> None:
    made = meters_of_every_kind(session)

    batched = period_consumption(session, made.values(), START, END)

    assert batched[made["daily"]].quantity == Decimal("39.000")  # 140 - 101, both read
    # The 5 is left out: 14.8 on 1 October (10 -> 30 in 25 days), 42.857 on 1 November.
    assert batched[made["glitch"]].quantity == Decimal("28.057")
    assert batched[made["spike"]].how == "insufficient"  # everything after 99999 went backwards
    assert batched[made["nothing"]].how == "insufficient"
    # The new meter's readings alone: 103.333 on 1 October, 148.235 on 1 November.
    assert batched[made["successor"]].quantity == Decimal("44.902")


def test_manual_meters_bill_the_months_reading_less_the_one_before(session: Session) -> None:
    meter = make_meter(session, smart=False)
    add_readings(
        session,
        meter,
        [(local(8, 20, 19), "50"), (local(9, 19, 19), "60"), (local(10, 19, 19), "90")],
        source=ReadingSource.manual,
    )

    [result] = period_consumption(session, [meter.id], START, END).values()

    assert (result.how, result.manual, result.estimated_hours) == ("metered", True, None)
    assert (result.start.at, result.end.at) == (local(9, 19, 19), local(10, 19, 19))
    assert result.quantity == meter_consumption(session, meter.id, START, END).quantity
    assert result.quantity == Decimal("30.000")  # 90 - 60, no boundary interpolated
