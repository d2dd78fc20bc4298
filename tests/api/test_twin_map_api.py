"""The city map's JSON route and its two pages: who gets which buildings, and hostile input.

The city of tests/api/conftest.py: company A manages building A (the resident's), company B
building B. A company's staff never get the other's building, in the JSON, on the map page
(its filter lists) or in the list; residents 403; every wrong input a 4xx, never a 5xx.
"""

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from housing.app import content_security_policy, create_app
from housing.twin.map import FIELDS, Layer
from tests.api.conftest import City
from tests.conftest import make_settings

URL = "/api/v1/map/buildings"
JSON = {"Accept": "application/json"}


def points(client: TestClient, city: City, who: str, **params) -> dict[int, list]:
    response = client.get(URL, params=params, headers=city.headers[who] | JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["fields"] == list(FIELDS)
    assert body["count"] == len(body["points"])
    return {point[0]: point for point in body["points"]}


@pytest.mark.parametrize("who", ["admin", "official"])
def test_officials_and_admins_get_the_city(client, city: City, who):
    got = points(client, city, who)
    assert set(got) == {city.building_a.id, city.building_b.id}
    a = got[city.building_a.id]
    assert a[3] == city.building_a.address
    assert a[5] == city.company_a.id
    assert a[6] is None  # nobody graded it yet


@pytest.mark.parametrize("who", ["manager", "dispatcher", "technician"])
def test_a_companys_staff_never_get_another_companys_building(client, city: City, who):
    for layer in Layer:
        assert set(points(client, city, who, layer=layer.value)) == {city.building_a.id}
        asked_for_b = points(client, city, who, layer=layer.value, company_id=city.company_b.id)
        assert asked_for_b == {}
        response = client.get(URL, params={"layer": layer.value}, headers=city.headers[who])
        assert city.building_b.address not in response.text
        assert "Chilonzor Uy-Joy" not in response.text  # B's name is not in the name table either


def test_the_other_company_gets_only_its_own(client, city: City):
    assert set(points(client, city, "manager_b")) == {city.building_b.id}


def test_a_resident_has_no_map(client, city: City):
    response = client.get(URL, headers=city.headers["resident"] | JSON)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_nobody_logged_in_is_401(client, city: City):
    assert client.get(URL, headers=JSON).status_code == 401


def test_the_answer_names_its_layer_scale_and_grades_day(client, city: City):
    body = client.get(URL, params={"layer": "debt"}, headers=city.headers["official"]).json()
    assert body["layer"] == "debt"
    assert body["scale"] == {"kind": "threshold", "yellow": 0.1, "red": 0.25, "more_is_worse": True}
    assert body["graded_from"] is None  # nothing graded yet
    assert [name for _, name in body["districts"]] == ["Yunusobod"]
    assert {name for _, name in body["companies"]} == {"Yunusobod Servis", "Chilonzor Uy-Joy"}


def test_empty_filters_mean_all(client, city: City):
    assert len(points(client, city, "official", district_id="", company_id="", layer="grade")) == 2
    assert len(points(client, city, "official", district_id=" ")) == 2


HOSTILE = [
    ({"layer": "heat"}, "layer"),
    ({"layer": ""}, "layer"),
    ({"layer": "GRADE"}, "layer"),
    ({"layer": "grade\x00"}, "layer"),
    ({"district_id": "abc"}, "district_id"),
    ({"district_id": "0"}, "district_id"),
    ({"district_id": "-1"}, "district_id"),
    ({"district_id": str(2**31)}, "district_id"),
    ({"district_id": str(2**63)}, "district_id"),
    ({"district_id": "1e3"}, "district_id"),
    ({"company_id": "1.5"}, "company_id"),
    ({"company_id": "9" * 13}, "company_id"),
    ({"company_id": "\x00"}, "company_id"),
]


def test_hostile_input_is_422_naming_it(client, city: City):
    for params, field in HOSTILE:
        response = client.get(URL, params=params, headers=city.headers["official"] | JSON)
        assert response.status_code == 422, (params, response.text)
        body = response.json()
        assert body["field"] == field or any(e["field"] == field for e in body["errors"]), params


PAGE_HOSTILE = [
    {"layer": "heat"},
    {"district_id": "x"},
    {"company_id": str(2**40)},
    {"district_id": "\x00"},
]


def test_the_pages_refuse_hostile_input_with_a_4xx(browser_of):
    client = browser_of("official")
    for path in ("/map", "/map/list"):
        for params in PAGE_HOSTILE:
            response = client.get(path, params=params)
            assert response.status_code == 422, (path, params, response.text)
    for page in ("0", "-1", str(10**6), str(2**63), "x"):
        assert client.get("/map/list", params={"page": page}).status_code == 422, page


def test_an_unknown_district_or_company_is_an_empty_map_not_an_error(client, city: City):
    assert points(client, city, "official", district_id=2**31 - 1, company_id=2**31 - 1) == {}


# The pages


def test_the_map_page_for_an_official(browser_of, city: City):
    page = browser_of("official").get("/map", params={"layer": "overdue", "district_id": ""})
    assert page.status_code == 200
    html = page.text
    assert 'data-points="/api/v1/map/buildings?layer=overdue"' in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/twin-map.js" in html
    assert "<script>" not in html  # no inline script
    assert 'href="/map/list?layer=overdue"' in html
    assert 'aria-current="page">Map of buildings' in html  # a tab of the city dashboard
    assert 'data-tile-url=""' in html


def test_a_managers_pages_list_only_their_company(browser_of, city: City):
    client = browser_of("manager")
    for path in ("/map", "/map/list", "/map/list?layer=debt", "/map?layer=meeting"):
        html = client.get(path).text
        assert "Chilonzor Uy-Joy" not in html, path
        assert city.building_b.address not in html, path
    listed = client.get("/map/list").text
    assert f'<a href="/buildings/{city.building_a.id}">{escape(city.building_a.address)}</a>' in listed
    assert 'href="/map"' in listed  # the console's navigation has the map
    assert client.get("/map/list", params={"company_id": city.company_b.id}).text.count("data-building=") == 0


def test_the_list_shows_each_layers_value(browser_of, city: City):
    client = browser_of("official")
    for layer in Layer:
        html = client.get("/map/list", params={"layer": layer.value}).text
        assert html.count("data-building=") == 2, layer
        assert "Rows 1–2 of 2." in html


def test_a_page_past_the_last_shows_the_last(browser_of, city: City):
    html = browser_of("official").get("/map/list", params={"page": 99_999}).text
    assert html.count("data-building=") == 2


def test_a_resident_gets_403_on_the_pages(browser_of):
    client = browser_of("resident")
    assert client.get("/map").status_code == 403
    assert client.get("/map/list").status_code == 403


# The tile server


def test_no_tile_server_no_foreign_images():
    csp = content_security_policy(make_settings("sqlite://"))
    assert "img-src 'self' data:;" in csp


@pytest.mark.parametrize(
    ("tile_url", "origin"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tiles.example.uz:8443/{z}/{x}/{y}.png", "https://*.tiles.example.uz:8443"),
    ],
)
def test_a_tile_servers_origin_joins_img_src(tile_url, origin):
    settings = make_settings("sqlite://", twin={"tile_url": tile_url, "tile_attribution": "© OSM"})
    assert f"img-src 'self' data: {origin};" in content_security_policy(settings)


def test_the_map_page_uses_the_configured_tiles(database_url, db, city: City):
    settings = make_settings(
        database_url,
        twin={"tile_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "tile_attribution": "© OSM"},
    )
    with TestClient(create_app(settings, engine=db)) as client:
        token = city.headers["official"]
        page = client.get("/map", headers=token | {"Accept": "text/html"})
        assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page.text
        assert 'data-tile-attribution="© OSM"' in page.text
        assert "https://tile.openstreetmap.org;" in page.headers["content-security-policy"]


def test_the_openapi_document_describes_the_arrays(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"][URL]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/MapBuildings")
    model = document["components"]["schemas"]["MapBuildings"]
    assert "arrays, not objects" in model["description"]
    assert model["properties"]["points"]["items"]["type"] == "array"
    layer = next(p for p in operation["parameters"] if p["name"] == "layer")
    assert "422" in operation["responses"]
    assert layer["schema"].get("$ref") or layer["schema"].get("enum") or layer["schema"].get("allOf")
