"""A building's decided management fee: the days and company each decision applies to (pure)."""

from datetime import UTC, date, datetime

from billing.tariffs.building_fees import BuildingFee, FeeDecision, ManagementPeriod, building_fees

A, B = 1, 2
DECIDED = datetime(2026, 1, 10, tzinfo=UTC)


def decision(n: int, effective_from: date, fee_minor: int, decided_at: datetime = DECIDED) -> FeeDecision:
    return FeeDecision(n, 7, effective_from, fee_minor, decided_at)


def fee(n: int, company: int, start: date, until: date | None, fee_minor: int) -> BuildingFee:
    return BuildingFee(n, 7, company, start, until, fee_minor)


A_SINCE_2020 = [ManagementPeriod(A, date(2020, 1, 1), None)]


def test_a_fee_applies_from_its_date_to_the_company_managing_then_without_end() -> None:
    assert building_fees([decision(1, date(2026, 3, 1), 250_000)], A_SINCE_2020) == [
        fee(1, A, date(2026, 3, 1), None, 250_000)
    ]


def test_a_later_fee_decision_ends_the_earlier_one_on_its_date() -> None:
    found = building_fees(
        [decision(2, date(2026, 9, 1), 260_000), decision(1, date(2026, 3, 1), 250_000)], A_SINCE_2020
    )
    assert found == [
        fee(1, A, date(2026, 3, 1), date(2026, 9, 1), 250_000),
        fee(2, A, date(2026, 9, 1), None, 260_000),
    ]


def test_of_two_fees_for_the_same_day_the_one_decided_last_applies() -> None:
    later = datetime(2026, 2, 1, tzinfo=UTC)
    found = building_fees(
        [decision(5, date(2026, 3, 1), 270_000, later), decision(4, date(2026, 3, 1), 250_000)],
        A_SINCE_2020,
    )
    assert found == [fee(5, A, date(2026, 3, 1), None, 270_000)]


def test_a_company_change_ends_the_fee_and_a_fee_for_the_change_day_is_the_new_companys() -> None:
    history = [
        ManagementPeriod(A, date(2020, 1, 1), date(2026, 10, 1)),
        ManagementPeriod(B, date(2026, 10, 1), None),
    ]
    assert building_fees([decision(1, date(2026, 3, 1), 250_000)], history) == [
        fee(1, A, date(2026, 3, 1), date(2026, 10, 1), 250_000)
    ]
    both = building_fees(
        [decision(1, date(2026, 3, 1), 250_000), decision(2, date(2026, 10, 1), 190_000)], history
    )
    assert both == [
        fee(1, A, date(2026, 3, 1), date(2026, 10, 1), 250_000),
        fee(2, B, date(2026, 10, 1), None, 190_000),
    ]


def test_the_same_company_signing_again_does_not_end_its_fee() -> None:
    history = [
        ManagementPeriod(A, date(2020, 1, 1), date(2026, 6, 1)),
        ManagementPeriod(A, date(2026, 6, 1), None),
    ]
    assert building_fees([decision(1, date(2026, 3, 1), 250_000)], history) == [
        fee(1, A, date(2026, 3, 1), None, 250_000)
    ]


def test_a_fee_dated_before_any_company_belongs_to_the_first_one_from_its_first_day() -> None:
    history = [ManagementPeriod(B, date(2026, 5, 1), None)]
    assert building_fees([decision(1, date(2026, 3, 1), 250_000)], history) == [
        fee(1, B, date(2026, 5, 1), None, 250_000)
    ]
    assert building_fees([decision(1, date(2026, 3, 1), 250_000)], []) == []
