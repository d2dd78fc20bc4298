"""Services and tariffs through the API: admins define them, the rest read what concerns them."""

import pytest
from sqlmodel import Session

from billing.models import Service
from tests.api.conftest import City
from tests.factories.billing import make_service

API = "/api/v1"


@pytest.fixture
def electricity(session: Session, city: City) -> Service:
    made = make_service(session, code="electricity", name="Electricity", unit="kWh", meter_kind="electricity")
    session.commit()
    return made


def tariff(service_id: int, **kw) -> dict:
    return {
        "service_id": service_id,
        "basis": "per_unit",
        "valid_from": "2025-05-01",
        "tiers": [
            {"up_to": "200", "price": "600"},
            {"up_to": "500", "price": "800"},
            {"price": "1000"},
        ],
    } | kw


def post(client, city: City, body: dict, who: str = "admin"):
    return client.post(f"{API}/tariffs", json=body, headers=city.headers[who])


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


# Services


def test_an_admin_adds_a_service_and_everyone_lists_it(client, city: City):
    body = {"code": "waste", "name": "Waste removal", "unit": "person"}
    created = client.post(f"{API}/services", json=body, headers=city.headers["admin"])
    assert created.status_code == 201, created.text
    assert created.json() | body == created.json()
    again = client.post(f"{API}/services", json=body, headers=city.headers["admin"])
    assert problem(again, 409)["field"] == "code"
    for who in ("official", "manager", "resident"):
        listed = client.get(f"{API}/services", headers=city.headers[who])
        assert [s["code"] for s in listed.json()["items"]] == ["waste"]
        refused = client.post(f"{API}/services", json=body | {"code": "gas"}, headers=city.headers[who])
        assert problem(refused, 403)


# Creating tariffs


def test_an_admin_creates_a_tiered_tariff(client, city: City, electricity: Service):
    response = post(client, city, tariff(electricity.id))
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["company_id"], created["valid_until"], created["currency"]) == (None, None, "UZS")
    assert [(t["position"], t["up_to"], t["price"], t["price_minor"]) for t in created["tiers"]] == [
        (1, "200.000", "600.00", "60000.0000"),
        (2, "500.000", "800.00", "80000.0000"),
        (3, None, "1000.00", "100000.0000"),
    ]
    read = client.get(f"{API}/tariffs/{created['id']}", headers=city.headers["official"])
    assert read.json() == created


def test_a_price_per_person_keeps_its_fraction_of_a_sum(client, city: City, session: Session):
    water = make_service(session, code="cold_water")
    session.commit()
    body = tariff(water.id, basis="per_person", tiers=[{"price": "49019.60"}])
    tier = post(client, city, body).json()["tiers"][0]
    assert (tier["price"], tier["price_minor"]) == ("49019.60", "4901960.0000")


def test_gas_with_a_winter_norm(client, city: City, session: Session):
    gas = make_service(session, code="gas")
    session.commit()
    body = tariff(
        gas.id,
        tiers=[{"up_to": "100", "price": "1000"}, {"price": "1800"}],
        seasonal_norms=[{"months": [11, 12, 1, 2], "up_to": "500"}],
    )
    response = post(client, city, body)
    assert response.status_code == 201, response.text
    assert response.json()["seasonal_norms"] == [{"months": [1, 2, 11, 12], "up_to": "500.000"}]


def test_overlapping_tariffs_of_a_service_clash(client, city: City, electricity: Service):
    first = post(client, city, tariff(electricity.id)).json()
    clash = problem(post(client, city, tariff(electricity.id, valid_from="2026-01-01")), 409)
    assert clash["conflicting_tariff_id"] == first["id"]
    assert f"tariff {first['id']}" in clash["detail"]
    # A company's own tariff, or a per-person one beside the meter price, is no clash.
    own = post(client, city, tariff(electricity.id, company_id=city.company_a.id))
    assert own.status_code == 201, own.text
    flat = post(client, city, tariff(electricity.id, basis="per_person", tiers=[{"price": "30000"}]))
    assert flat.status_code == 201, flat.text


def test_ending_a_tariff_makes_room_for_the_next(client, city: City, electricity: Service):
    first = post(client, city, tariff(electricity.id)).json()
    ended = client.post(
        f"{API}/tariffs/{first['id']}/end", json={"valid_until": "2026-01-01"}, headers=city.headers["admin"]
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["valid_until"] == "2026-01-01"
    assert post(client, city, tariff(electricity.id, valid_from="2025-12-31")).status_code == 409
    assert post(client, city, tariff(electricity.id, valid_from="2026-01-01")).status_code == 201
    longer = client.post(
        f"{API}/tariffs/{first['id']}/end", json={"valid_until": "2026-06-01"}, headers=city.headers["admin"]
    )
    assert problem(longer, 409)["field"] == "valid_until"  # never extended over its successor
    before = client.post(
        f"{API}/tariffs/{first['id']}/end", json={"valid_until": "2025-05-01"}, headers=city.headers["admin"]
    )
    assert problem(before, 422)["field"] == "valid_until"


@pytest.mark.parametrize(
    ("tiers", "field", "words"),
    [
        ([{"up_to": "500", "price": "800"}, {"up_to": "200", "price": "600"}, {"price": "1000"}],
         "tiers.1.up_to", "not above tier 1's bound"),
        ([{"price": "600"}, {"up_to": "500", "price": "800"}], "tiers.0.up_to", "open-ended but is not the last"),
        ([{"up_to": "200", "price": "600"}, {"up_to": "500", "price": "800"}], "tiers.1.up_to", "must be open-ended"),
        ([{"up_to": "200", "price": "600"}, {"price": "-5"}], "tiers.1.price", "cannot be negative"),
        ([{"up_to": "0", "price": "600"}, {"price": "800"}], "tiers.0.up_to", "must be positive"),
    ],
)  # fmt: skip
def test_bad_tiers_are_refused_naming_the_field(
    client, city: City, electricity: Service, tiers, field, words
):
    body = problem(post(client, city, tariff(electricity.id, tiers=tiers)), 422)
    assert body["field"] == field
    assert words in body["detail"]


@pytest.mark.parametrize("basis", ["fixed", "per_m2", "per_person"])
def test_a_flat_tariff_has_one_tier(client, city: City, electricity: Service, basis: str):
    body = problem(post(client, city, tariff(electricity.id, basis=basis)), 422)
    assert body["field"] == "tiers"
    assert "exactly one tier (got 3)" in body["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"valid_until": "2025-04-01"}, "valid_until"),
        ({"service_id": 999999}, "service_id"),
        ({"company_id": 999999}, "company_id"),
        ({"seasonal_norms": [{"months": [13], "up_to": "100"}]}, "seasonal_norms.0.months"),
        ({"seasonal_norms": [{"months": [1], "up_to": "600"}]}, "seasonal_norms.0.up_to"),
        ({"tiers": [{"price": "12.34567"}]}, "tiers.0.price"),
    ],
)
def test_other_bad_input_names_the_field(client, city: City, electricity: Service, change, field):
    assert problem(post(client, city, tariff(electricity.id) | change), 422)["field"] == field


@pytest.mark.parametrize("who", ["official", "manager", "dispatcher", "resident"])
def test_only_admins_write_tariffs(client, city: City, electricity: Service, who: str):
    assert problem(post(client, city, tariff(electricity.id), who), 403)
    created = post(client, city, tariff(electricity.id)).json()
    ended = client.post(
        f"{API}/tariffs/{created['id']}/end", json={"valid_until": "2026-01-01"}, headers=city.headers[who]
    )
    assert problem(ended, 403)


# Reading tariffs


def test_each_role_reads_the_tariffs_that_concern_it(client, city: City, session: Session):
    fee = make_service(session, code="management", unit="m2")
    session.commit()
    flat = {"basis": "per_m2", "tiers": [{"price": "1823"}]}
    city_wide = post(client, city, tariff(fee.id, **flat)).json()["id"]
    own_a = post(client, city, tariff(fee.id, **flat, company_id=city.company_a.id)).json()["id"]
    own_b = post(client, city, tariff(fee.id, **flat, company_id=city.company_b.id)).json()["id"]

    def seen(who: str, query: str = "") -> set[int]:
        response = client.get(f"{API}/tariffs{query}", headers=city.headers[who])
        assert response.status_code == 200, response.text
        return {t["id"] for t in response.json()["items"]}

    assert seen("admin") == seen("official") == {city_wide, own_a, own_b}
    assert seen("manager") == seen("technician") == {city_wide, own_a}
    assert seen("manager_b") == {city_wide, own_b}
    assert seen("resident") == {city_wide, own_a}  # company A manages the resident's home
    assert seen("manager", f"?company_id={city.company_b.id}") == set()
    assert seen("official", "?city_wide=true") == {city_wide}
    reading_b = client.get(f"{API}/tariffs/{own_b}", headers=city.headers["manager"])
    assert problem(reading_b, 404)  # another company's tariff is not there for them


def test_tariffs_in_force_on_a_day(client, city: City, electricity: Service):
    old = post(client, city, tariff(electricity.id, valid_until="2026-01-01")).json()["id"]
    new = post(client, city, tariff(electricity.id, valid_from="2026-01-01")).json()["id"]

    def on(day: str) -> list[int]:
        query = f"?service_id={electricity.id}&on={day}"
        return [
            t["id"]
            for t in client.get(f"{API}/tariffs{query}", headers=city.headers["manager"]).json()["items"]
        ]

    assert on("2025-12-31") == [old]
    assert on("2026-01-01") == [new]
    assert on("2025-04-30") == []
