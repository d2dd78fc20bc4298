"""A shared expense split by each key: exact to the tiyin, all parts or none, among many buildings."""

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from housing.building_money.models import BuildingExpense, SharedExpense
from housing.building_money.rules import split_exactly
from housing.building_money.service import ExpenseInput, company_managing, record_shared_expense
from housing.errors import Invalid
from housing.registry.models import ManagementCompany
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.money import bookkeeper_of

DAY = date(2026, 8, 10)


def _share(session, buildings, amount, **kw):
    return record_shared_expense(
        session,
        bookkeeper_of(session, buildings[0], DAY),
        building_ids=[b.id for b in buildings],
        expense=ExpenseInput(spent_on=DAY, category="staff", amount_minor=amount),
        today=DAY,
        **kw,
    )


def _parts(session, shared) -> dict[int, int]:
    rows = session.exec(select(BuildingExpense).where(BuildingExpense.shared_expense_id == shared.id)).all()
    return {r.building_id: r.amount_minor for r in rows}


def _stored(session) -> tuple[int, int]:
    return (
        len(session.exec(select(BuildingExpense)).all()),
        len(session.exec(select(SharedExpense)).all()),
    )


@pytest.fixture
def three(session):
    company = make_company(session)
    buildings = [make_building(session, company) for _ in range(3)]
    for building, flats in zip(buildings, (1, 2, 4), strict=True):
        for _ in range(flats):
            make_apartment(session, building, area_m2=Decimal("50.00"))
    return buildings


def test_by_premises_each_building_weighs_its_number_of_premises(session, three):
    shared = _share(session, three, 700, split_key="premises")
    assert _parts(session, shared) == {three[0].id: 100, three[1].id: 200, three[2].id: 400}
    assert shared.weights == {str(three[0].id): "1", str(three[1].id): "2", str(three[2].id): "4"}


def test_equal_parts_give_the_leftover_tiyin_to_the_lower_ids(session, three):
    shared = _share(session, three, 100, split_key="equal")
    assert _parts(session, shared) == {three[0].id: 34, three[1].id: 33, three[2].id: 33}


def test_manual_weights_are_kept_with_their_note(session, three):
    weights = {three[0].id: "0.5", three[1].id: "0.25", three[2].id: Decimal("0.25")}
    shared = _share(
        session, three, 1_000_001, split_key="manual", weights=weights, split_note="by lift stops"
    )
    parts = _parts(session, shared)
    assert parts == {three[0].id: 500_001, three[1].id: 250_000, three[2].id: 250_000}
    assert (shared.split_note, shared.weights[str(three[0].id)]) == ("by lift stops", "0.5")


@pytest.mark.parametrize(
    "weights",
    [
        "other buildings",
        "missing one",
        "zero",
        "negative",
        "nan",
        "inf",
        "text",
        "five decimals",
        "huge",
    ],
)
def test_bad_manual_weights_book_nothing(session, three, weights):
    ids = [b.id for b in three]
    given = {
        "other buildings": {ids[0]: "1", ids[1]: "1", ids[2] + 1000: "1"},
        "missing one": {ids[0]: "1", ids[1]: "1"},
        "zero": {ids[0]: "1", ids[1]: "1", ids[2]: "0"},
        "negative": {ids[0]: "1", ids[1]: "1", ids[2]: "-1"},
        "nan": {ids[0]: "1", ids[1]: "1", ids[2]: "NaN"},
        "inf": {ids[0]: "1", ids[1]: "1", ids[2]: "Infinity"},
        "text": {ids[0]: "1", ids[1]: "1", ids[2]: "heavy"},
        "five decimals": {ids[0]: "1", ids[1]: "1", ids[2]: "0.00001"},
        "huge": {ids[0]: "1", ids[1]: "1", ids[2]: "1e10"},
    }[weights]
    with pytest.raises(Invalid) as refused:
        _share(session, three, 100, split_key="manual", weights=given, split_note="measured")
    assert refused.value.field == "weights"
    assert _stored(session) == (0, 0)


def test_a_building_of_zero_area_cannot_share_by_area_but_can_by_another_key(session, three):
    company_building = make_building(session, _company_of(session, three[0]))  # no premises at all
    with pytest.raises(Invalid) as refused:
        _share(session, [three[0], company_building], 100)
    assert (refused.value.field, _stored(session)) == ("split_key", (0, 0))
    assert "weighs nothing by area" in str(refused.value)
    shared = _share(session, [three[0], company_building], 101, split_key="equal")
    assert _parts(session, shared) == {three[0].id: 51, company_building.id: 50}


def _company_of(session, building):
    return session.get(ManagementCompany, company_managing(session, building.id, DAY))


def test_a_shared_expense_among_a_thousand_buildings_adds_up_to_the_tiyin(session):
    company = make_company(session)
    buildings = [make_building(session, company) for _ in range(1000)]
    for i, building in enumerate(buildings):
        make_apartment(session, building, area_m2=Decimal(f"{30 + (i * 7) % 97}.{i % 100:02d}"))
    total = 987_654_321
    shared = _share(session, buildings, total)
    parts = _parts(session, shared)
    assert len(parts) == 1000
    assert sum(parts.values()) == total
    # Each part is its exact share rounded down or up, never further off.
    areas = {b.id: Decimal(f"{30 + (i * 7) % 97}.{i % 100:02d}") for i, b in enumerate(buildings)}
    whole = sum(areas.values())
    assert all(abs(parts[i] - total * areas[i] / whole) < 1 for i in parts)
    assert parts == split_exactly(total, areas)


def test_a_split_among_one_building_is_refused(session, three):
    with pytest.raises(Invalid):
        _share(session, three[:1], 100)
    with pytest.raises(Invalid):
        _share(session, [three[0], three[0]], 100)  # the same building twice is one
    assert _stored(session) == (0, 0)


@pytest.mark.parametrize("key", ["area", "premises", "equal"])
def test_weights_with_another_key_than_manual_are_refused_not_ignored(session, three, key):
    weights = {b.id: "1" for b in three}
    with pytest.raises(Invalid) as refused:
        _share(session, three, 100, split_key=key, weights=weights)
    assert refused.value.field == "weights"
    assert _stored(session) == (0, 0)
