"""The register through the API as an admin and a manager: create, read, update, validation."""

from tests.api.conftest import City

API = "/api/v1"


def created(client, path: str, body: dict, headers: dict) -> dict:
    """POSTs `body` to the API's `path` and returns what was created (201 asserted)."""
    response = client.post(API + path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def apartment_body(building_id: int, **kw) -> dict:
    return {"building_id": building_id, "number": "5", "area_m2": "40", "account_number": "1234567"} | kw


def building_body(company_id: int, **kw) -> dict:
    fields = {"address": "Somewhere 1", "district_id": 1, "latitude": 41, "longitude": 69, "floors": 3}
    return fields | {"company_id": company_id} | kw


def ownership_body(apartment_id: int, person_id: int, share: str, valid_from: str = "2024-01-01") -> dict:
    return {"apartment_id": apartment_id, "person_id": person_id, "share": share, "valid_from": valid_from}


def test_admin_builds_a_city_from_scratch(client, city: City):
    admin = city.headers["admin"]
    district = created(client, "/districts", {"name": "Mirzo Ulug'bek"}, admin)
    company = created(
        client,
        "/companies",
        {
            "name": "Mirzo Servis",
            "tax_id": "301234567",
            "district_id": district["id"],
            "phone": "+998 71 200 00 00",
        },
        admin,
    )
    building = created(
        client,
        "/buildings",
        building_body(
            company["id"],
            address="Buyuk Ipak Yo'li 12",
            district_id=district["id"],
            latitude=41.33,
            longitude=69.33,
            floors=9,
            year_built=1985,
            total_area_m2="5400.50",
        ),
        admin,
    )
    assert building["company_id"] == company["id"]
    apartment = created(
        client,
        "/apartments",
        apartment_body(
            building["id"],
            number="17",
            area_m2="62.40",
            rooms=3,
            registered_residents=4,
            account_number="7700123",
        ),
        admin,
    )
    assert apartment["area_m2"] == "62.40"
    person = created(client, "/people", {"full_name": "Dilnoza Karimova", "pinfl": "31234567890123"}, admin)
    share = created(
        client, "/ownerships", ownership_body(apartment["id"], person["id"], "2/3", "2021-05-01"), admin
    )
    assert share["share"] == "2/3"
    created(
        client,
        "/residences",
        {"apartment_id": apartment["id"], "person_id": person["id"], "valid_from": "2021-05-01"},
        admin,
    )
    credentials = {"username": "dilnoza", "password": "a long password"}
    created(client, "/users", credentials | {"role": "resident", "person_id": person["id"]}, admin)
    token = client.post(f"{API}/auth/token", data=credentials).json()
    mine = client.get(
        f"{API}/apartments", headers={"Authorization": f"Bearer {token['access_token']}"}
    ).json()
    assert [a["number"] for a in mine["items"]] == ["17"]


def test_updates_change_only_what_is_sent(client, city: City):
    admin = city.headers["admin"]
    response = client.patch(f"{API}/apartments/{city.home.id}", json={"rooms": 2}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["rooms"] == 2
    assert response.json()["area_m2"] == "54.30"
    renamed = client.patch(f"{API}/companies/{city.company_a.id}", json={"name": "Yangi nom"}, headers=admin)
    assert renamed.json()["name"] == "Yangi nom"
    assert renamed.json()["tax_id"] == city.company_a.tax_id


def test_manager_registers_within_own_company(client, city: City, session):
    manager = city.headers["manager"]
    # No company_id: a manager's building is its own company's.
    fields = {
        "address": "Yunusobod 4-mavze, 12-uy",
        "district_id": city.building_a.district_id,
        "latitude": 41.36,
        "longitude": 69.29,
        "floors": 4,
    }
    building = created(client, "/buildings", fields, manager)
    assert building["company_id"] == city.company_a.id
    created(
        client,
        "/apartments",
        apartment_body(building["id"], number="1", area_m2="30", account_number="5500001"),
        manager,
    )
    listed = client.get(f"{API}/buildings", headers=manager).json()
    assert listed["total"] == 2


def test_invalid_fields_are_named(client, city: City):
    admin = city.headers["admin"]
    cases = [
        ("/apartments", apartment_body(city.building_a.id, area_m2="0"), "area_m2"),
        ("/apartments", apartment_body(city.building_a.id, area_m2="-3"), "area_m2"),
        ("/buildings", building_body(city.company_a.id, latitude=91), "latitude"),
        ("/buildings", building_body(city.company_a.id, longitude=190), "longitude"),
        ("/companies", {"name": "Bad tax", "tax_id": "12"}, "tax_id"),
        ("/people", {"full_name": "X Y", "pinfl": "123"}, "pinfl"),
        ("/ownerships", ownership_body(city.home.id, city.resident_person_id, "3/2"), "share"),
        ("/ownerships", ownership_body(city.home.id, city.resident_person_id, "banana"), "share"),
        (
            "/residences",
            {
                "apartment_id": city.home.id,
                "person_id": city.resident_person_id,
                "valid_from": "2024-01-01",
                "valid_until": "2023-01-01",
            },
            "",
        ),
    ]
    for path, body, field in cases:
        response = client.post(API + path, json=body, headers=admin)
        assert response.status_code == 422, (path, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["field"] == field, problem
        assert problem["detail"]


def test_conflicts_name_the_field(client, city: City):
    admin = city.headers["admin"]
    duplicate_number = client.post(
        f"{API}/apartments",
        json=apartment_body(city.building_a.id, number="1", account_number="9999999"),
        headers=admin,
    )
    assert duplicate_number.status_code == 409
    assert duplicate_number.json()["field"] == "number"
    duplicate_account = client.post(
        f"{API}/apartments",
        json=apartment_body(city.building_a.id, number="77", account_number=city.home.account_number),
        headers=admin,
    )
    assert duplicate_account.status_code == 409
    assert duplicate_account.json()["field"] == "account_number"
    duplicate_tax = client.post(
        f"{API}/companies", json={"name": "Copy", "tax_id": city.company_a.tax_id}, headers=admin
    )
    assert duplicate_tax.status_code == 409
    assert duplicate_tax.json()["field"] == "tax_id"
    unknown_district = client.post(
        f"{API}/buildings",
        json=building_body(city.company_a.id, address="Nowhere 1", district_id=999),
        headers=admin,
    )
    assert unknown_district.status_code == 422
    assert unknown_district.json()["field"] == "district_id"


def test_shares_never_sum_past_one(client, city: City):
    admin = city.headers["admin"]
    # The resident already owns the whole home since 2020.
    spouse = client.post(f"{API}/people", json={"full_name": "Spouse Person"}, headers=admin).json()
    too_much = client.post(
        f"{API}/ownerships", json=ownership_body(city.home.id, spouse["id"], "1/2"), headers=admin
    )
    assert too_much.status_code == 409
    assert too_much.json()["field"] == "share"
    assert "more than 1" in too_much.json()["detail"]
    # After the resident's ownership ends, the share is free again.
    ownership = client.get(f"{API}/ownerships?apartment_id={city.home.id}", headers=admin).json()["items"][0]
    ended = client.post(
        f"{API}/ownerships/{ownership['id']}/end", json={"valid_until": "2024-01-01"}, headers=admin
    )
    assert ended.status_code == 200, ended.text
    half = client.post(
        f"{API}/ownerships", json=ownership_body(city.home.id, spouse["id"], "1/2"), headers=admin
    )
    assert half.status_code == 201, half.text
    overlap = client.post(
        f"{API}/ownerships",
        json=ownership_body(city.home.id, spouse["id"], "1/4", valid_from="2025-01-01"),
        headers=admin,
    )
    assert overlap.status_code == 409
    assert overlap.json()["field"] == "valid_from"


def test_pagination(client, city: City):
    admin = city.headers["admin"]
    first = client.get(f"{API}/apartments?limit=2", headers=admin).json()
    second = client.get(f"{API}/apartments?limit=2&offset=2", headers=admin).json()
    assert first["total"] == second["total"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert {a["id"] for a in first["items"]}.isdisjoint({a["id"] for a in second["items"]})
    assert client.get(f"{API}/apartments?limit=0", headers=admin).status_code == 422


def test_openapi_lists_the_resources(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    for resource in ("districts", "companies", "buildings", "apartments", "people", "ownerships", "users"):
        assert f"{API}/{resource}" in paths
    assert client.get("/docs").status_code == 200
