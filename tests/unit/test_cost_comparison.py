"""The comparison's statistics: medians, the robust outlier rule, small and degenerate samples."""

from decimal import Decimal

import pytest

from housing.building_money.comparison import (
    THRESHOLD,
    BuildingFigure,
    Direction,
    compare,
    median,
    spread,
)


def figure(building_id, per_m2, *, company=1, district=1, area="100") -> BuildingFigure:
    area = Decimal(area)
    return BuildingFigure(building_id, company, district, int(per_m2 * area), area)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([5.0], 5.0), ([3.0, 1.0, 2.0], 2.0), ([4.0, 1.0, 3.0, 2.0], 2.5), ([1.0, 1.0, 9.0, 9.0], 5.0)],
)
def test_median_odd_even_and_single(values, expected):
    assert median(values) == expected


def test_median_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        median([])


def test_modified_z_scores_by_hand():
    # median 10; deviations 1, 0, 0, 1, 40 -> MAD 1
    s = spread([10.0, 9.0, 11.0, 10.0, 50.0])
    assert (s.median, s.mad) == (10.0, 1.0)
    assert s.z(50.0) == pytest.approx(0.6745 * 40)
    assert s.outlier(50.0) is Direction.high
    assert s.outlier(5.0) is None  # |M| = 0.6745 * 5 = 3.37 <= 3.5
    assert s.outlier(4.0) is Direction.low  # 0.6745 * -6 = -4.05
    assert s.outlier(15.0) is None
    assert s.outlier(15.3) is Direction.high  # 0.6745 * 5.3 = 3.57


def test_threshold_is_exclusive():
    s = spread([10.0, 9.0, 11.0, 10.0, 50.0])
    at_threshold = 10.0 + THRESHOLD / 0.6745
    assert s.z(at_threshold) == pytest.approx(THRESHOLD)
    assert s.outlier(at_threshold - 1e-9) is None
    assert s.outlier(at_threshold + 1e-6) is Direction.high


def test_mad_zero_falls_back_to_the_mean_absolute_deviation():
    s = spread([10.0, 10.0, 10.0, 10.0, 40.0])
    assert s.mad == 0 and s.mean_ad == 6.0
    assert s.z(40.0) == pytest.approx(30 / (1.253314 * 6))
    assert s.outlier(40.0) is Direction.high
    same = spread([7.0, 7.0, 7.0])
    assert same.z(7.0) is None and same.outlier(7.0) is None


def test_a_few_extreme_buildings_do_not_move_the_median_but_are_marked():
    normal = [figure(i, 1000 + 10 * i, company=1 + i % 2) for i in range(1, 21)]
    extreme = [figure(100, 90_000, company=1), figure(101, 1, company=2)]
    result = compare(normal + extreme)
    assert result.n == 22 and result.excluded == 0
    assert result.outliers == {100: Direction.high, 101: Direction.low}
    one, two = sorted(result.companies, key=lambda g: g.key)
    assert (one.n, one.outliers_high, one.outliers_low) == (11, [100], [])
    assert (two.n, two.outliers_high, two.outliers_low) == (11, [], [101])
    # Company 1: 1020, 1040, ..., 1200 and 90000: the sixth of eleven values is 1120.
    assert one.median_per_m2 == pytest.approx(1120)
    assert two.median_per_m2 == pytest.approx(1090)  # 1, 1010, 1030, ..., 1190: the sixth is 1090
    assert one.total_minor == sum(f.amount_minor for f in normal + extreme if f.company_id == 1)


def test_zero_area_is_left_out_and_counted():
    result = compare([figure(1, 500), figure(2, 700), BuildingFigure(3, 1, 1, 10_000, Decimal(0))])
    assert (result.n, result.excluded) == (2, 1)
    assert result.companies[0].median_per_m2 == 600
    assert compare([BuildingFigure(3, 1, 1, 10_000, Decimal(0))]).spread is None


def test_a_single_building_is_its_own_median_and_never_an_outlier():
    result = compare([figure(1, 1234)])
    assert result.outliers == {}
    (company,) = result.companies
    assert (company.n, company.median_per_m2, company.z, company.outlier) == (1, 1234, None, None)


def test_nothing_to_compare():
    result = compare([])
    assert (result.n, result.companies, result.districts, result.outliers) == (0, [], [], {})


def test_a_company_whose_buildings_agree_but_cost_three_times_the_others_is_marked():
    figures = [figure(c * 100 + i, 1000 + c * 7 + i, company=c) for c in range(1, 9) for i in range(5)]
    figures += [figure(900 + i, 3000 + i, company=9) for i in range(5)]
    result = compare(figures)
    by_key = {g.key: g for g in result.companies}
    assert by_key[9].outlier is Direction.high
    assert all(by_key[c].outlier is None for c in range(1, 9))
    assert result.companies[0].key == 9  # the most expensive first


def test_districts_are_grouped_like_companies():
    result = compare([figure(1, 100, district=5), figure(2, 300, district=5), figure(3, 50, district=6)])
    assert [(d.key, d.n, d.median_per_m2) for d in result.districts] == [(5, 2, 200), (6, 1, 50)]


def test_negative_figures_from_corrections_are_kept():
    result = compare([figure(1, -100), figure(2, 100), figure(3, 120)])
    assert result.n == 3 and result.companies[0].median_per_m2 == 100


def test_huge_amounts_stay_exact_enough():
    big = BuildingFigure(1, 1, 1, 10**15, Decimal("0.01"))
    assert compare([big]).companies[0].median_per_m2 == pytest.approx(10**17)
