"""Cross-role attempts: each must be refused, and a hidden resource must look absent (404)."""

import pytest

from tests.api.conftest import City

APARTMENT = {"number": "99", "area_m2": "40.5", "account_number": "ACC-999"}
BUILDING = {"address": "Chilonzor 9-kvartal, 3-uy", "latitude": 41.28, "longitude": 69.2, "floors": 5}

# (who, method, path template, body, expected status, why)
REFUSED = [
    ("resident", "GET", "/apartments/{neighbour}", None, 404, "a neighbour's apartment"),
    ("resident", "GET", "/apartments/{far_away}", None, 404, "an apartment in another building"),
    ("resident", "GET", "/buildings/{building_b}", None, 404, "a building they have no home in"),
    ("resident", "GET", "/people/{neighbour_person}", None, 404, "a neighbour's personal data"),
    ("resident", "PATCH", "/apartments/{home}", {"registered_residents": 0}, 403, "editing the register"),
    (
        "resident",
        "POST",
        "/apartments",
        {"building_id": "{building_a}", **APARTMENT},
        403,
        "adding apartments",
    ),
    ("resident", "GET", "/users", None, 403, "the user list"),
    ("resident", "GET", "/companies/{company_b}", None, 404, "a company that does not manage their home"),
    ("manager", "GET", "/buildings/{building_b}", None, 404, "company B's building"),
    ("manager", "GET", "/apartments/{far_away}", None, 404, "company B's apartment"),
    ("manager", "GET", "/companies/{company_b}", None, 404, "company B itself"),
    ("manager", "PATCH", "/buildings/{building_b}", {"floors": 3}, 404, "editing company B's building"),
    ("manager", "PATCH", "/apartments/{far_away}", {"rooms": 3}, 404, "editing company B's apartment"),
    (
        "manager",
        "POST",
        "/apartments",
        {"building_id": "{building_b}", **APARTMENT},
        422,
        "an apartment in B's building",
    ),
    (
        "manager",
        "POST",
        "/buildings",
        {**BUILDING, "district_id": 1, "company_id": "{company_b}"},
        403,
        "registering a building for company B",
    ),
    (
        "manager",
        "POST",
        "/buildings/{building_a}/management",
        {"company_id": "{company_b}", "valid_from": "2030-01-01"},
        403,
        "handing buildings between companies",
    ),
    ("manager", "POST", "/districts", {"name": "Yangi tuman"}, 403, "creating districts"),
    (
        "manager",
        "POST",
        "/users",
        {"username": "x1234", "password": "0123456789ab", "role": "admin"},
        403,
        "creating users",
    ),
    ("manager", "GET", "/users", None, 403, "the user list"),
    ("manager_b", "GET", "/people/{resident_person}", None, 404, "people of another company's building"),
    (
        "dispatcher",
        "POST",
        "/apartments",
        {"building_id": "{building_a}", **APARTMENT},
        403,
        "adding apartments",
    ),
    ("technician", "PATCH", "/apartments/{home}", {"rooms": 2}, 403, "editing apartments"),
    ("official", "POST", "/districts", {"name": "Yangi tuman"}, 403, "creating a district"),
    ("official", "PATCH", "/companies/{company_a}", {"name": "Renamed"}, 403, "renaming a company"),
    (
        "official",
        "POST",
        "/buildings",
        {**BUILDING, "district_id": 1, "company_id": "{company_a}"},
        403,
        "registering a building",
    ),
    ("official", "PATCH", "/apartments/{home}", {"rooms": 2}, 403, "editing an apartment"),
    ("official", "POST", "/people", {"full_name": "Someone New"}, 403, "adding a person"),
    (
        "official",
        "POST",
        "/users",
        {"username": "x1234", "password": "0123456789ab", "role": "admin"},
        403,
        "creating a user",
    ),
    (
        "official",
        "POST",
        "/ownerships",
        {
            "apartment_id": "{home}",
            "person_id": "{resident_person}",
            "share": "1/2",
            "valid_from": "2024-01-01",
        },
        403,
        "changing ownership",
    ),
    (None, "GET", "/buildings", None, 401, "anonymous listing"),
    # Service requests and incidents
    ("manager_b", "GET", "/requests/{home_request}", None, 404, "company A's request"),
    (
        "manager_b",
        "POST",
        "/requests/{home_request}/transitions",
        {"to": "accepted"},
        404,
        "accepting company A's request",
    ),
    (
        "resident",
        "POST",
        "/requests/{home_request}/transitions",
        {"to": "accepted"},
        403,
        "accepting own request",
    ),
    (
        "official",
        "POST",
        "/requests/{home_request}/transitions",
        {"to": "rejected", "reason": "x"},
        403,
        "rejecting",
    ),
    (
        "official",
        "POST",
        "/requests/{home_request}/comments",
        {"body": "hello"},
        403,
        "commenting (read-only)",
    ),
    (
        "technician",
        "PUT",
        "/requests/{home_request}/assignment",
        {"assignee_id": None},
        403,
        "assigning work",
    ),
    ("dispatcher", "POST", "/requests/{home_request}/rating", {"rating": 5}, 403, "rating for the resident"),
    (
        "resident",
        "POST",
        "/requests",
        {"apartment_id": "{neighbour}", "category_id": "{category}", "description": "Leak in the flat"},
        422,
        "a request for a neighbour's apartment",
    ),
    (
        "manager",
        "POST",
        "/requests",
        {"building_id": "{building_b}", "category_id": "{category}", "description": "Lift is stuck"},
        422,
        "a request for company B's building",
    ),
    ("official", "POST", "/requests", {"building_id": "{building_a}"}, 403, "filing a request"),
    (
        "manager",
        "POST",
        "/request-categories",
        {"code": "pests", "name": "Pests", "deadline_minutes": 60},
        403,
        "creating a category",
    ),
    (
        "manager",
        "PATCH",
        "/request-categories/{category}",
        {"deadline_minutes": 100000},
        403,
        "loosening a deadline",
    ),
    (
        "manager",
        "POST",
        "/outages",
        {
            "building_id": "{building_b}",
            "utility": "hot_water",
            "starts_at": "2099-06-01T08:00:00+05:00",
            "ends_at": "2099-06-01T12:00:00+05:00",
        },
        422,
        "an outage in company B's building",
    ),
    (
        "resident",
        "POST",
        "/outages",
        {
            "building_id": "{building_a}",
            "utility": "hot_water",
            "starts_at": "2099-06-01T08:00:00+05:00",
            "ends_at": "2099-06-01T12:00:00+05:00",
        },
        403,
        "declaring an outage",
    ),
    ("manager_b", "GET", "/buildings/{building_a}/incidents", None, 404, "company A's building incidents"),
    ("resident", "GET", "/buildings/{building_b}/incidents", None, 404, "incidents of a building elsewhere"),
]


def _fill(value, ids: dict[str, int]):
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


def _ids(city: City) -> dict[str, int]:
    return {
        "home": city.home.id,
        "neighbour": city.neighbour.id,
        "far_away": city.far_away.id,
        "building_a": city.building_a.id,
        "building_b": city.building_b.id,
        "company_a": city.company_a.id,
        "company_b": city.company_b.id,
        "resident_person": city.resident_person_id,
        "neighbour_person": city.neighbour_person_id,
        "home_request": city.home_request.id,
        "category": city.category.id,
    }


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "expected", "why"), REFUSED, ids=[r[5] + f" ({r[0]})" for r in REFUSED]
)
def test_cross_role_attempt_is_refused(client, city: City, who, method, path, body, expected, why):
    ids = _ids(city)
    response = client.request(
        method,
        "/api/v1" + path.format(**ids),
        json=_fill(body, ids),
        headers=city.headers[who] if who else {},
    )
    assert response.status_code == expected, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


def test_nothing_changed_after_refused_writes(client, city: City):
    for who, method, path, body, _expected, _why in REFUSED:
        if method != "GET":
            ids = _ids(city)
            client.request(
                method,
                "/api/v1" + path.format(**ids),
                json=_fill(body, ids),
                headers=city.headers[who] if who else {},
            )
    admin = city.headers["admin"]
    assert client.get("/api/v1/districts", headers=admin).json()["total"] == 1
    assert client.get("/api/v1/apartments", headers=admin).json()["total"] == 3
    assert client.get("/api/v1/users", headers=admin).json()["total"] == 7
    assert client.get(f"/api/v1/apartments/{city.home.id}", headers=admin).json()["rooms"] is None
    assert client.get(f"/api/v1/buildings/{city.building_b.id}", headers=admin).json()["floors"] == 9
    request = client.get(f"/api/v1/requests/{city.home_request.id}", headers=admin).json()
    assert (request["status"], request["comments"], request["rating"]) == ("new", [], None)
    assert client.get("/api/v1/requests", headers=admin).json()["total"] == 1
    assert client.get("/api/v1/request-categories", headers=admin).json()["total"] == 1
    assert client.get(f"/api/v1/buildings/{city.building_b.id}/incidents", headers=admin).json()["total"] == 0


def test_each_role_lists_only_its_scope(client, city: City):
    def buildings(who):
        return {b["id"] for b in client.get("/api/v1/buildings", headers=city.headers[who]).json()["items"]}

    def apartments(who):
        return {a["id"] for a in client.get("/api/v1/apartments", headers=city.headers[who]).json()["items"]}

    everything = {city.building_a.id, city.building_b.id}
    assert buildings("admin") == everything
    assert buildings("official") == everything
    assert buildings("manager") == {city.building_a.id}
    assert buildings("dispatcher") == {city.building_a.id}
    assert buildings("manager_b") == {city.building_b.id}
    assert buildings("resident") == {city.building_a.id}
    assert apartments("resident") == {city.home.id}
    assert apartments("technician") == {city.home.id, city.neighbour.id}
    people = client.get("/api/v1/people", headers=city.headers["resident"]).json()["items"]
    assert [p["id"] for p in people] == [city.resident_person_id]
    companies = client.get("/api/v1/companies", headers=city.headers["resident"]).json()["items"]
    assert [c["id"] for c in companies] == [city.company_a.id]
    filtered = client.get(
        f"/api/v1/buildings?company_id={city.company_b.id}", headers=city.headers["manager"]
    )
    assert filtered.json()["items"] == []


def test_handing_a_building_over_moves_it_between_companies(client, city: City, settings):
    from datetime import timedelta

    from housing import clock

    today = clock.local_today(settings.timezone)  # the city's day, as the routes see it
    response = client.post(
        f"/api/v1/buildings/{city.building_a.id}/management",
        json={"company_id": city.company_b.id, "valid_from": str(today - timedelta(days=1))},
        headers=city.headers["admin"],
    )
    assert response.status_code == 201, response.text
    assert (
        client.get(f"/api/v1/buildings/{city.building_a.id}", headers=city.headers["manager"]).status_code
        == 404
    )
    moved = client.get(f"/api/v1/buildings/{city.building_a.id}", headers=city.headers["manager_b"])
    assert moved.json()["company_id"] == city.company_b.id
    history = client.get(
        f"/api/v1/buildings/{city.building_a.id}/management", headers=city.headers["official"]
    )
    assert [(h["company_id"], h["valid_until"]) for h in history.json()] == [
        (city.company_a.id, str(today - timedelta(days=1))),
        (city.company_b.id, None),
    ]
