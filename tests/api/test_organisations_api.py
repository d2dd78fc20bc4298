"""Organisations through the people API: a 9-digit tax id required, an individual has none;
clear 422s naming the field, 409 for a tax id taken, nothing stored on a refusal."""

import pytest

from tests.api.conftest import City

API = "/api/v1"


def people_count(client, headers) -> int:
    return client.get(f"{API}/people?limit=1", headers=headers).json()["total"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"full_name": "Savdo MChJ", "kind": "organisation"}, "tax_id", "needs its tax id"),
        ({"full_name": "Savdo MChJ", "kind": "organisation", "tax_id": "12345678"}, "tax_id", ""),
        ({"full_name": "Savdo MChJ", "kind": "organisation", "tax_id": "1234567890"}, "tax_id", ""),
        ({"full_name": "Savdo MChJ", "kind": "organisation", "tax_id": "12345678a"}, "tax_id", ""),
        ({"full_name": "Savdo MChJ", "kind": "organisation", "tax_id": "١٢٣٤٥٦٧٨٩"}, "tax_id", ""),
        ({"full_name": "Savdo MChJ", "kind": "organisation", "tax_id": 301234567}, "tax_id", ""),
        ({"full_name": "Dilnoza Karimova", "tax_id": "301234567"}, "tax_id", "individual has no tax id"),
        ({"full_name": "Dilnoza Karimova", "kind": "company"}, "kind", ""),
        (
            {
                "full_name": "Savdo MChJ",
                "kind": "organisation",
                "tax_id": "301234567",
                "pinfl": "31234567890123",
            },
            "pinfl",
            "not a PINFL",
        ),
    ],
)
def test_bad_people_are_refused_naming_the_field(client, city: City, body, field, words):
    admin = city.headers["admin"]
    before = people_count(client, admin)

    response = client.post(f"{API}/people", json=body, headers=admin)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field and words in problem["detail"], problem
    assert people_count(client, admin) == before


def test_an_organisation_is_registered_read_and_its_tax_id_is_its_own(client, city: City):
    admin = city.headers["admin"]
    body = {"full_name": "Toshkent Savdo MChJ", "kind": "organisation", "tax_id": "301234567"}

    created = client.post(f"{API}/people", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["kind"], created.json()["tax_id"]) == ("organisation", "301234567")
    again = client.post(f"{API}/people", json=body | {"full_name": "Another MChJ"}, headers=admin)
    assert again.status_code == 409 and again.json()["field"] == "tax_id"

    person = client.post(f"{API}/people", json={"full_name": "Dilnoza Karimova"}, headers=admin).json()
    assert (person["kind"], person["tax_id"]) == ("individual", None)
    # A kind changed alone, without a tax id, is refused; with one it is accepted.
    path = f"{API}/people/{person['id']}"
    assert client.patch(path, json={"kind": "organisation"}, headers=admin).json()["field"] == "tax_id"
    assert client.patch(path, json={"kind": None}, headers=admin).status_code == 422
    taken = client.patch(path, json={"kind": "organisation", "tax_id": "301234567"}, headers=admin)
    assert taken.status_code == 409
    changed = client.patch(path, json={"kind": "organisation", "tax_id": "301234568"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["kind"] == "organisation"
