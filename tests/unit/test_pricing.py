"""Line prices and quality deductions, in exact tiyin (1 UZS = 100 tiyin)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from billing.tariffs import pricing
from billing.tariffs.pricing import (
    Basis,
    SeasonalNorm,
    TariffVersion,
    Tier,
    price_line,
    validate_tariff,
)
from billing.tariffs.quality import Incident, cold_water_price, quality_deduction

MAY_2025 = date(2025, 5, 1)
SUMMER = frozenset(range(3, 11))
WINTER = frozenset({11, 12, 1, 2})


def uzs(amount: str) -> Decimal:
    """A price in UZS as tiyin."""
    return Decimal(amount) * 100


def electricity(valid_from=MAY_2025, valid_until=None, prices=("600", "800", "1000")) -> TariffVersion:
    low, mid, high = (uzs(p) for p in prices)
    tiers = (Tier(Decimal(200), low), Tier(Decimal(500), mid), Tier(None, high))
    return TariffVersion(Basis.per_unit, tiers, valid_from, valid_until)


GAS = TariffVersion(
    Basis.per_unit,
    (Tier(Decimal(100), uzs("1000")), Tier(None, uzs("1800"))),
    MAY_2025,
    seasonal_norms=(SeasonalNorm(SUMMER, Decimal(100)), SeasonalNorm(WINTER, Decimal(500))),
)


def single(basis: Basis, price_uzs: str, valid_from=MAY_2025, valid_until=None) -> TariffVersion:
    return TariffVersion(basis, (Tier(None, uzs(price_uzs)),), valid_from, valid_until)


def six(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000001"))


def month(year: int, m: int) -> tuple[date, date]:
    return date(year, m, 1), date(year + m // 12, m % 12 + 1, 1)


# Tiers


def test_650_kwh_is_priced_tier_by_tier():
    line = price_line(Decimal(650), [electricity()], *month(2025, 11))

    # 200 x 600 + 300 x 800 + 150 x 1,000 = 510,000 UZS
    assert line.amount_minor == 51_000_000
    assert [(p.tier, p.units, p.price_minor) for p in line.parts] == [
        (1, 200, 60_000),
        (2, 300, 80_000),
        (3, 150, 100_000),
    ]
    assert [p.subtotal for p in line.parts] == [12_000_000, 24_000_000, 15_000_000]


def test_150_kwh_stays_in_the_first_tier():
    line = price_line(Decimal(150), [electricity()], *month(2025, 11))

    assert line.amount_minor == 9_000_000
    assert [(p.tier, p.units) for p in line.parts] == [(1, 150)]


def test_exactly_200_kwh_fills_the_first_tier_only():
    line = price_line(Decimal(200), [electricity()], *month(2025, 11))

    assert line.amount_minor == 12_000_000
    assert [(p.tier, p.units) for p in line.parts] == [(1, 200)]


def test_201_kwh_puts_one_kwh_in_the_second_tier():
    line = price_line(Decimal(201), [electricity()], *month(2025, 11))

    assert line.amount_minor == 12_080_000  # 200 x 600 + 1 x 800
    assert [(p.tier, p.units) for p in line.parts] == [(1, 200), (2, 1)]


def test_no_consumption_costs_nothing():
    line = price_line(Decimal(0), [electricity()], *month(2025, 11))

    assert (line.amount_minor, line.parts) == (0, ())


# Seasonal norms


def test_gas_120_m3_in_october_goes_past_the_summer_norm():
    line = price_line(Decimal(120), [GAS], *month(2025, 10))

    assert line.amount_minor == 13_600_000  # 100 x 1,000 + 20 x 1,800
    assert [(p.tier, p.up_to, p.units) for p in line.parts] == [(1, 100, 100), (2, None, 20)]


def test_gas_120_m3_in_november_is_within_the_winter_norm():
    line = price_line(Decimal(120), [GAS], *month(2025, 11))

    assert line.amount_minor == 12_000_000  # 120 x 1,000
    assert [(p.tier, p.up_to, p.units) for p in line.parts] == [(1, 500, 120)]


def test_period_across_october_and_november_splits_the_seasonal_norm_by_days():
    # 16 Oct - 15 Nov: 31 days, 16 in October and 15 in November; 310 m3 is 10 m3 a day.
    line = price_line(Decimal(310), [GAS], date(2025, 10, 16), date(2025, 11, 16))

    # October: 160 m3 against a norm of 100 x 16/31 m3:
    #   1,600/31 x 1,000 + (160 - 1,600/31) x 1,800 = 7,648,000/31 UZS = 24,670,967.74 tiyin.
    # November: 150 m3 against a norm of 500 x 15/30 = 250 m3: 150 x 1,000 = 15,000,000 tiyin.
    assert line.amount_minor == 39_670_968
    assert line.exact.quantize(Decimal("0.01")) == Decimal("39670967.74")
    october, above, november = line.parts
    assert (october.start, october.end, october.days, october.quantity) == (
        date(2025, 10, 16),
        date(2025, 11, 1),
        16,
        160,
    )
    assert six(october.up_to) == Decimal("51.612903")  # 1,600/31
    assert six(above.units) == Decimal("108.387097")  # 160 - 1,600/31
    assert (november.days, november.quantity, november.up_to, november.units) == (15, 150, 250, 150)


# Tariff changes within the period


def test_mid_month_tariff_change_splits_quantity_and_price_by_days():
    # Cold water at 3,808 UZS/m3 until 15 October, 4,200 from the 16th; 10 m3 in October.
    old = single(Basis.per_unit, "3808", valid_until=date(2025, 10, 16))
    new = single(Basis.per_unit, "4200", valid_from=date(2025, 10, 16))

    line = price_line(Decimal(10), [old, new], *month(2025, 10))

    # 10 x 15/31 x 380,800 + 10 x 16/31 x 420,000 = 124,320,000/31 = 4,010,322.58 tiyin
    assert line.amount_minor == 4_010_323
    assert [(p.valid_from, p.days, p.price_minor) for p in line.parts] == [
        (MAY_2025, 15, 380_800),
        (date(2025, 10, 16), 16, 420_000),
    ]
    assert [six(p.quantity) for p in line.parts] == [
        Decimal("4.838710"),
        Decimal("5.161290"),
    ]  # 150/31, 160/31


def test_mid_month_tariff_change_prorates_the_tier_bounds():
    old = electricity(valid_until=date(2025, 11, 16))
    new = electricity(valid_from=date(2025, 11, 16), prices=("700", "900", "1100"))

    line = price_line(Decimal(650), [new, old], *month(2025, 11))

    # Each half of November: 325 kWh against bounds of 100 / 250 kWh.
    # 100 x 600 + 150 x 800 + 75 x 1,000 = 255,000 UZS; 100 x 700 + 150 x 900 + 75 x 1,100 = 287,500.
    assert line.amount_minor == 54_250_000
    assert [(p.start.day, p.tier, p.up_to, p.units) for p in line.parts] == [
        (1, 1, 100, 100),
        (1, 2, 250, 150),
        (1, 3, None, 75),
        (16, 1, 100, 100),
        (16, 2, 250, 150),
        (16, 3, None, 75),
    ]


def test_a_gap_between_tariffs_is_refused():
    old = single(Basis.per_unit, "3808", valid_until=date(2025, 10, 10))
    new = single(Basis.per_unit, "4200", valid_from=date(2025, 10, 16))

    with pytest.raises(ValueError, match="no tariff is in force on 2025-10-10"):
        price_line(Decimal(10), [old, new], *month(2025, 10))


def test_overlapping_tariffs_are_refused():
    old = single(Basis.per_unit, "3808")
    new = single(Basis.per_unit, "4200", valid_from=date(2025, 10, 16))

    with pytest.raises(ValueError, match="overlap on 2025-10-16"):
        price_line(Decimal(10), [old, new], *month(2025, 10))


def test_a_change_of_basis_within_the_period_is_refused():
    by_person = single(Basis.per_person, "49019.60", valid_until=date(2025, 10, 16))
    by_meter = single(Basis.per_unit, "3808", valid_from=date(2025, 10, 16))

    with pytest.raises(ValueError, match=r"basis changes within the period \(per_person -> per_unit\)"):
        price_line(Decimal(3), [by_person, by_meter], *month(2025, 10))


def test_an_invalid_tariff_is_refused():
    broken = TariffVersion(Basis.per_unit, (Tier(None, Decimal(-1)),), MAY_2025)

    with pytest.raises(ValueError, match="tariff from 2025-05-01: tier 1: negative price -1"):
        price_line(Decimal(10), [broken], *month(2025, 10))


def test_versions_outside_the_period_are_ignored():
    expired = TariffVersion(Basis.per_unit, (Tier(None, Decimal(-1)),), date(2024, 1, 1), MAY_2025)

    line = price_line(Decimal(10), [expired, single(Basis.per_unit, "3808")], *month(2025, 10))

    assert line.amount_minor == 3_808_000


# Other bases


def test_per_person_without_a_meter():
    line = price_line(Decimal(3), [single(Basis.per_person, "49019.60")], *month(2025, 11))

    assert line.amount_minor == 14_705_880  # 3 x 49,019.60 = 147,058.80 UZS


def test_per_m2_management_fee():
    line = price_line(Decimal("54.30"), [single(Basis.per_m2, "1823")], *month(2025, 11))

    assert line.amount_minor == 9_898_890  # 54.30 x 1,823 = 98,988.90 UZS


def test_fixed_fee_is_one_month_for_a_calendar_month():
    line = price_line(Decimal(1), [single(Basis.fixed, "5000")], *month(2026, 2))

    assert line.amount_minor == 500_000
    assert [(p.days, p.units) for p in line.parts] == [(28, 1)]


def test_fixed_fee_for_part_of_a_month_is_its_days_share():
    # An account opened on 16 October pays 16 of October's 31 days: 500,000 x 16/31.
    line = price_line(Decimal(1), [single(Basis.fixed, "5000")], date(2025, 10, 16), date(2025, 11, 1))

    assert line.amount_minor == 258_065  # 258,064.516


# Rounding


def test_a_line_is_rounded_once_not_per_part():
    # 2 m3 across the October change: 2 x 15/31 x 380,800 = 368,516.13 and
    # 2 x 16/31 x 420,000 = 433,548.39; rounded per part 802,064, but the line is
    # 24,864,000/31 = 802,064.516 tiyin, which rounds to 802,065.
    old = single(Basis.per_unit, "3808", valid_until=date(2025, 10, 16))
    new = single(Basis.per_unit, "4200", valid_from=date(2025, 10, 16))

    line = price_line(Decimal(2), [old, new], *month(2025, 10))

    assert sum(round(p.subtotal) for p in line.parts) == 802_064
    assert line.amount_minor == 802_065


def test_a_half_tiyin_rounds_up():
    # 500,001 tiyin a month for the last 15 of November's 30 days: 250,000.5 tiyin.
    line = price_line(Decimal(1), [single(Basis.fixed, "5000.01")], date(2025, 11, 16), date(2025, 12, 1))

    assert line.exact == Decimal("250000.5")
    assert line.amount_minor == 250_001


def test_bad_periods_and_quantities_are_refused():
    with pytest.raises(ValueError, match="must end after it starts"):
        price_line(Decimal(1), [electricity()], date(2025, 11, 1), date(2025, 11, 1))
    with pytest.raises(ValueError, match="cannot be negative"):
        price_line(Decimal(-1), [electricity()], *month(2025, 11))


# Validation


def test_seed_tariffs_are_valid():
    assert validate_tariff(electricity()) == []
    assert validate_tariff(GAS) == []
    assert validate_tariff(single(Basis.per_person, "49019.60")) == []


def test_tiers_out_of_order_are_reported():
    tiers = (Tier(Decimal(500), uzs("800")), Tier(Decimal(200), uzs("600")), Tier(None, uzs("1000")))

    problems = validate_tariff(TariffVersion(Basis.per_unit, tiers, MAY_2025))

    assert problems == ["tier 2: bound 200 is below tier 1's bound 500 (tiers out of order)"]


def test_overlapping_bounds_are_reported():
    tiers = (Tier(Decimal(200), uzs("600")), Tier(Decimal(200), uzs("800")), Tier(None, uzs("1000")))

    problems = validate_tariff(TariffVersion(Basis.per_unit, tiers, MAY_2025))

    assert problems == ["tier 2: bound 200 overlaps tier 1, which ends at the same bound"]


def test_negative_price_is_reported():
    tiers = (Tier(Decimal(200), uzs("600")), Tier(None, uzs("-800")))

    problems = validate_tariff(TariffVersion(Basis.per_unit, tiers, MAY_2025))

    assert problems == ["tier 2: negative price -80000"]


def test_open_tier_before_the_last_and_closed_last_tier_are_reported():
    tiers = (Tier(None, uzs("600")), Tier(Decimal(500), uzs("800")))

    problems = validate_tariff(TariffVersion(Basis.per_unit, tiers, MAY_2025))

    assert problems == [
        "tier 1 is open-ended but is not the last tier",
        "the last tier must be open-ended (up_to=None) so that every quantity has a price",
    ]


def test_empty_tiers_are_reported():
    assert validate_tariff(TariffVersion(Basis.per_unit, (), MAY_2025)) == [
        "no tiers: a tariff needs at least one price"
    ]


@pytest.mark.parametrize("basis", [Basis.fixed, Basis.per_m2, Basis.per_person])
def test_non_metered_bases_need_exactly_one_open_tier(basis):
    tiers = (Tier(Decimal(100), uzs("1000")), Tier(None, uzs("1800")))

    problems = validate_tariff(TariffVersion(basis, tiers, MAY_2025))

    assert problems == [f"a {basis} tariff has exactly one open-ended tier (got 2 tiers)"]


def test_validity_that_ends_before_it_starts_is_reported():
    version = single(Basis.per_unit, "3808", valid_until=MAY_2025)

    assert validate_tariff(version) == ["valid_until 2025-05-01 is not after valid_from 2025-05-01"]


def test_bad_seasonal_norms_are_reported():
    norms = (
        SeasonalNorm(frozenset({10, 11, 13}), Decimal(100)),
        SeasonalNorm(frozenset({11, 12}), Decimal(0)),
    )
    version = TariffVersion(Basis.per_unit, GAS.tiers, MAY_2025, seasonal_norms=norms)

    assert validate_tariff(version) == [
        "seasonal norm months [13] are not calendar months 1-12",
        "months [11] are in two seasonal norms",
        "seasonal norm 0 must be positive",
    ]


# Quality deductions

NOVEMBER = (datetime(2025, 10, 31, 19, tzinfo=UTC), datetime(2025, 11, 30, 19, tzinfo=UTC))  # Tashkent


def hot(start: datetime, hours: int | None, deviation: str, utility: str = "hot_water") -> Incident:
    end = None if hours is None else start.replace(hour=start.hour + hours)
    return Incident(start, end, Decimal(deviation), utility)


def test_hot_water_at_48_c_for_10_hours():
    # 12 C below 60 C is 7 C beyond the allowed 5 C: 7/3 steps x 0.1% x 10 hours = 2.3333%.
    incident = hot(datetime(2025, 11, 5, 6, tzinfo=UTC), 10, "12")

    deduction = quality_deduction(1_000_000, [incident], "hot_water", NOVEMBER)

    assert deduction.amount_minor == 23_333  # 23,333.33
    assert six(deduction.percent) == Decimal("2.333333")
    assert deduction.cold_water_hours == 0
    assert "10 h at 12 C below 60 C, 7 C beyond the allowed deviation" in deduction.explanation
    assert "2.3333% of 1000000 = 23333 tiyin" in deduction.explanation


def test_hot_water_below_40_c_is_billed_as_cold_water_instead():
    warm = hot(datetime(2025, 11, 5, 6, tzinfo=UTC), 10, "12")  # 48 C
    cold = hot(datetime(2025, 11, 20, 0, tzinfo=UTC), 6, "25")  # 35 C

    deduction = quality_deduction(1_000_000, [warm, cold], "hot_water", NOVEMBER)

    assert deduction.amount_minor == 23_333  # the 35 C hours are not in the percentage
    assert (deduction.cold_water_hours, deduction.period_hours) == (6, 720)
    assert six(deduction.cold_water_share) == Decimal("0.008333")  # 6/720
    assert "6 h at 25 C below 60 C: below 40 C, billed as cold water" in deduction.explanation


def test_hot_water_within_the_allowed_deviation_is_not_deducted():
    deduction = quality_deduction(
        1_000_000, [hot(datetime(2025, 11, 5, tzinfo=UTC), 10, "5")], "hot_water", NOVEMBER
    )

    assert deduction.amount_minor == 0


def test_heating_at_15_c_for_5_hours():
    incident = hot(datetime(2025, 11, 5, 0, tzinfo=UTC), 5, "3", utility="heating")

    deduction = quality_deduction(2_000_000, [incident], "heating", NOVEMBER)

    assert deduction.percent == Decimal("2.25")  # 3 C x 5 h x 0.15%
    assert deduction.amount_minor == 45_000


def test_an_open_incident_counts_to_the_end_of_the_period_and_from_its_start():
    # Open since before the period: all 720 hours at 1 C below 18 C: 108%, capped at the charge.
    incident = Incident(datetime(2025, 10, 20, tzinfo=UTC), None, Decimal(1), "heating")

    deduction = quality_deduction(2_000_000, [incident], "heating", NOVEMBER)

    assert deduction.amount_minor == 2_000_000
    assert deduction.percent == 100
    assert "720 h at 1 C below 18 C" in deduction.explanation
    assert "(capped at the charge)" in deduction.explanation


def test_overlapping_incidents_count_the_worst_deviation_once():
    sensor = hot(datetime(2025, 11, 5, 0, tzinfo=UTC), 4, "2", utility="heating")
    report = hot(datetime(2025, 11, 5, 2, tzinfo=UTC), 4, "4", utility="heating")

    deduction = quality_deduction(1_000_000, [sensor, report], "heating", NOVEMBER)

    # 2 h at 2 C, then 4 h at 4 C: (4 + 16) x 0.15% = 3%
    assert deduction.percent == 3
    assert deduction.amount_minor == 30_000


def test_other_utilities_and_unmeasured_incidents_deduct_nothing():
    heating = hot(datetime(2025, 11, 5, tzinfo=UTC), 5, "3", utility="heating")
    unmeasured = Incident(datetime(2025, 11, 6, tzinfo=UTC), None, None, "hot_water")

    assert quality_deduction(1_000_000, [heating, unmeasured], "hot_water", NOVEMBER).amount_minor == 0
    assert quality_deduction(1_000_000, [heating], "gas", NOVEMBER).explanation == "no quality rule for gas"


def test_a_planned_outage_counts_only_beyond_its_allowance():
    # Heating off for 20 hours, 6 C below 18 C; 16 hours are allowed: 4 h x 6 x 0.15% = 3.6%.
    start = datetime(2025, 11, 5, 0, tzinfo=UTC)
    planned = Incident(start, start + timedelta(hours=20), Decimal(6), "heating", timedelta(hours=16))
    within = Incident(start, start + timedelta(hours=10), Decimal(6), "heating", timedelta(hours=16))

    assert quality_deduction(2_000_000, [planned], "heating", NOVEMBER).amount_minor == 72_000
    assert quality_deduction(2_000_000, [within], "heating", NOVEMBER).amount_minor == 0


def test_hours_below_40_c_are_billed_as_cold_water():
    # 10 m3 in November (720 hours): 9,000 UZS a m3 hot, 3,808 UZS cold.
    hot_charge = price_line(Decimal(10), [single(Basis.per_unit, "9000")], *month(2025, 11))
    cold_charge = price_line(Decimal(10), [single(Basis.per_unit, "3808")], *month(2025, 11))

    tenth = cold_water_price(hot_charge, cold_charge, Decimal(72), Decimal(720))
    third = cold_water_price(hot_charge, cold_charge, Decimal(240), Decimal(720))

    assert (tenth.amount_minor, tenth.hot_part_minor) == (8_480_800, 8_100_000)  # 9M x 0.9 + 3.808M x 0.1
    # 6,000,000 + 1,269,333.33..., rounded once
    assert (third.amount_minor, third.hot_part_minor) == (7_269_333, 6_000_000)
    assert third.share.quantize(Decimal("0.0001")) == Decimal("0.3333")
    assert "240 h of 720 below 40 C billed as cold water" in third.explanation


def test_cold_water_price_needs_the_same_quantity_and_basis():
    hot_charge = price_line(Decimal(10), [single(Basis.per_unit, "9000")], *month(2025, 11))
    by_person = price_line(Decimal(10), [single(Basis.per_person, "49019.60")], *month(2025, 11))
    other = price_line(Decimal(11), [single(Basis.per_unit, "3808")], *month(2025, 11))

    for cold in (by_person, other):
        with pytest.raises(ValueError):
            cold_water_price(hot_charge, cold, Decimal(1), Decimal(720))
    with pytest.raises(ValueError):
        cold_water_price(hot_charge, hot_charge, Decimal(721), Decimal(720))


def test_a_fraction_of_a_quantity_is_priced_exactly_and_rounded_once():
    # A third of 10 Gcal at 91,960 UZS: 30,653,333.33 tiyin, not 3.333 x 9,196,000 = 30,650,268.
    line = price_line(Fraction(10, 3), [single(Basis.per_unit, "91960")], *month(2025, 11))

    assert line.amount_minor == 30_653_333


@pytest.mark.parametrize("quantity", ["0", "0.001", "54.30", "199.999", "200", "650.000", "1234567.891"])
@pytest.mark.parametrize("versions", ["electricity", "gas", "person", "area"])
@pytest.mark.parametrize("period", [(2025, 10), (2025, 11), (2026, 2)])
def test_a_whole_month_priced_in_decimal_is_what_fractions_give(quantity, versions, period):
    tariff = {
        "electricity": [electricity()],
        "gas": [GAS],
        "person": [single(Basis.per_person, "49019.60")],
        "area": [single(Basis.per_m2, "1823.07")],
    }[versions]
    start, end = month(*period)

    fast = price_line(Decimal(quantity), tariff, start, end)
    exact = pricing._price_fractions(
        Decimal(quantity), pricing._segments(tuple(tariff), start, end), start, end
    )

    assert fast == exact
    assert [str(p.units) for p in fast.parts] == [str(p.units) for p in exact.parts]
    assert [str(p.quantity) for p in fast.parts] == [str(p.quantity) for p in exact.parts]
    assert [str(p.subtotal) for p in fast.parts] == [str(p.subtotal) for p in exact.parts]
    assert [str(p.up_to) for p in fast.parts] == [str(p.up_to) for p in exact.parts]
    assert str(fast.exact) == str(exact.exact)
