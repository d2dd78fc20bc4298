"""Hostile input is a 4xx naming the field, never a 5xx: one table per class of fault.

Each class was a 500 before (mostly on PostgreSQL, which refuses what SQLite stores):
integers past the columns' range, absurd dates and months, NUL and other control
characters, booleans taken for numbers, Open311 ids and dates. The id and filter tables
are built from the app's own routes, pages included, so a new route is covered the day it
is added. Runs on SQLite and, with HOUSING_TEST_DATABASE_URL, on PostgreSQL.
"""

import json
import logging
import re
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from housing.app import create_app
from housing.clock import local_today
from housing.schemas import PROVIDER_ANSWERS
from housing.settings import CITY_TIMEZONE
from tests.api.conftest import City
from tests.conftest import make_settings
from tests.pages import csrf_token
from tests.standins.click_calls import click_group
from tests.standins.payme_calls import FIELD, Payme, payme_group, transaction_id
from tests.unit.test_input_types import _api_routes, leaves

HOSTILE_IDS = [2**31, 2**63, 2**64 + 1, 0, -1]
NUL = "a\x00b"

# A valid value for each path parameter that is not an integer id.
OTHER_PATH_VALUES = {"taken_at": "2026-11-01T00:00:00+05:00", "fmt": "json", "service_code": "roof_leak"}


def _int_params(route: APIRoute, where: str) -> list[str]:
    params = _params(route.dependant, where)
    names = [
        p.alias
        for p in params
        if any(kind is int for kind, _ in leaves(p.field_info.annotation, tuple(p.field_info.metadata)))
    ]
    return list(dict.fromkeys(names))


def _params(dependant, where: str) -> list:
    """The route's parameters and those of its dependencies, however deep (a dependency on VisibleBuilding)."""
    params = list(getattr(dependant, f"{where}_params"))
    for sub in dependant.dependencies:
        params += _params(sub, where)
    return params


ROUTES = list(_api_routes(create_app(make_settings("sqlite://")).routes))


def _url(route: APIRoute, prefix: str, values: dict[str, Any]) -> str:
    path = route.path
    for name in re.findall(r"{(\w+)}", path):
        path = path.replace(f"{{{name}}}", str(values.get(name, OTHER_PATH_VALUES.get(name, 1))))
    return prefix + path


def _prefix(route: APIRoute) -> str:
    tags = route.tags or []
    if "open311" in tags:
        return "/open311/v2"
    return "/api/v1" if route.include_in_schema else ""


PATH_ID_CASES = [
    pytest.param(route, name, id=f"{sorted(route.methods)[0]} {_prefix(route)}{route.path} {name}")
    for route in ROUTES
    for name in _int_params(route, "path")
]
QUERY_INT_CASES = [
    pytest.param(route, name, id=f"GET {_prefix(route)}{route.path} ?{name}")
    for route in ROUTES
    if "GET" in route.methods and "{" not in route.path
    for name in _int_params(route, "query")
]


def _send(client: TestClient, method: str, url: str, headers: dict[str, str], **kw):
    return client.request(method, url, headers=headers | {"Accept": "application/json"}, **kw)


def _names(response, field: str) -> bool:
    """The answer names the field: problem details' `field`/`errors`, or the HTML page's text."""
    if response.headers["content-type"].startswith("application/problem+json"):
        body = response.json()
        return body.get("field") == field or any(e.get("field") == field for e in body.get("errors", []))
    return field in response.text


def _as_someone_allowed(client: TestClient, city: City, method: str, url: str, **kw):
    """As the admin; as the resident where only residents may (rating, reopening)."""
    response = _send(client, method, url, city.headers["admin"], **kw)
    if response.status_code == 403:
        response = _send(client, method, url, city.headers["resident"], **kw)
    return response


@pytest.mark.parametrize(("route", "name"), PATH_ID_CASES)
def test_an_id_out_of_range_in_a_path_is_422_naming_it(client, city: City, route, name):
    method = sorted(route.methods)[0]
    for value in HOSTILE_IDS:
        response = _as_someone_allowed(client, city, method, _url(route, _prefix(route), {name: value}))
        if "open311" in (route.tags or []):  # the spec's error list; such an id is not one of ours
            assert response.status_code == 404, response.text
            continue
        if response.status_code == 503 and 503 in route.responses:
            continue  # card payments on a server without Stripe say so before they read their input
        assert response.status_code == 422, (value, response.text)
        assert _names(response, name), response.text


@pytest.mark.parametrize(("route", "name"), QUERY_INT_CASES)
def test_an_integer_out_of_range_in_a_filter_is_422_naming_it(client, city: City, route, name):
    for value in (2**31, 2**63, -(2**63) - 1):
        url = _url(route, _prefix(route), {})
        response = _as_someone_allowed(client, city, "GET", url, params={name: value})
        assert response.status_code == 422, (value, response.text)
        assert _names(response, name), response.text


def test_the_tables_cover_the_routes_they_should():
    """A table that silently lost its rows would prove nothing."""
    assert len({c.values[0].path for c in PATH_ID_CASES}) > 40
    assert {"offset", "building_id", "apartment_id", "page"} <= {c.values[1] for c in QUERY_INT_CASES}


# Months and dates: year 0, 1 and 9999 overflowed the month arithmetic or PostgreSQL.

BAD_MONTHS = ["0000-01", "0001-01", "1999-12", "2101-01", "9999-12"]


@pytest.mark.parametrize("month", BAD_MONTHS)
@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/api/v1/scores?period={m}", "period"),
        ("GET", "/api/v1/scores.csv?period={m}", "period"),
        ("GET", "/api/v1/companies/1/scores?until={m}", "until"),
        ("GET", "/api/v1/invoices?period={m}", "period"),
        ("POST", "/api/v1/billing/runs", "period"),
        ("GET", "/city/scores?period={m}", "period"),
        ("GET", "/console/billing?period={m}", "period"),
    ],
)
def test_a_month_out_of_range_is_refused_naming_it(client, city: City, method, url, field, month):
    body = {"json": {"period": month, "dry_run": False}} if method == "POST" else {}
    response = _send(client, method, url.format(m=month), city.headers["admin"], **body)
    assert response.status_code == 422, response.text
    assert _names(response, field), response.text


BAD_DAYS = ["0000-01-01", "0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31", "2026-02-30"]


@pytest.mark.parametrize("day", BAD_DAYS)
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/payments/daily?from={d}", "from"),
        ("/api/v1/city/payments/daily?to={d}", "to"),
        ("/api/v1/reconciliations?from={d}", "from"),
        ("/api/v1/reconciliation-differences?day={d}", "day"),
        ("/console/payments?day={d}", "day"),
        ("/console/payments/daily?to={d}", "to"),
        ("/city/payments?from={d}", "from"),
    ],
)
def test_a_day_out_of_range_in_a_filter_is_422_naming_it(client, city: City, url, field, day):
    response = _send(client, "GET", url.format(d=day), city.headers["admin"])
    assert response.status_code == 422, response.text
    assert _names(response, field), response.text


def test_the_billing_pages_form_refuses_an_absurd_month_without_running(client, city: City):
    response = client.post("/console/billing", data={"period": "0001-01"}, headers=city.headers["admin"])
    assert response.status_code == 422
    assert "2026-10" in response.text  # the form's own hint


def _manual_payment(city: City, paid_on: str) -> tuple[str, str, dict]:
    url = f"/api/v1/apartments/{city.home.id}/payments/manual"
    return (
        url,
        "paid_on",
        {"amount_minor": 100, "gateway": "bank", "reference": f"r-{paid_on}", "paid_on": paid_on},
    )


@pytest.mark.parametrize("day", ["0439-05-01", "0001-01-01", "1999-12-31", "9999-12-31"])
def test_a_payment_dated_outside_the_platforms_years_is_refused(client, city: City, day):
    url, field, body = _manual_payment(city, day)
    response = client.post(url, json=body, headers=city.headers["admin"])
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_payment_of_today_still_books(client, city: City):
    url, _, body = _manual_payment(city, local_today(CITY_TIMEZONE).isoformat())
    assert client.post(url, json=body, headers=city.headers["admin"]).status_code == 201


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00", "9999-12-31T23:59:59+14:00", "1999-12-31T00:00:00Z"]
)
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/meters/1/consumption?start={t}&end=2026-11-01T00:00:00", "start"),
        ("/api/v1/buildings/1/incidents?since={t}", "since"),
        ("/api/v1/meters/1/readings/{t}/corrections", "taken_at"),
    ],
)
def test_a_datetime_outside_the_platforms_years_is_422(client, city: City, url, field, moment):
    method = "POST" if url.endswith("corrections") else "GET"
    body = {"json": {"value": "1", "reason": "typo"}} if method == "POST" else {}
    response = _send(
        client, method, url.replace("{t}", moment.replace("+", "%2B")), city.headers["admin"], **body
    )
    assert response.status_code == 422, response.text
    assert _names(response, field), response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"valid_from": "0001-01-01"}, "valid_from"),
        ({"valid_from": "9999-12-31"}, "valid_from"),
        ({"valid_from": 0}, "valid_from"),  # a number is not 1 January 1970
        ({"valid_from": "2026-01-01", "valid_until": "9999-12-31"}, "valid_until"),
    ],
)
def test_a_register_date_out_of_range_is_422(client, city: City, body, field):
    person = client.post("/api/v1/people", json={"full_name": "Aziz Karimov"}, headers=city.headers["admin"])
    payload = {"apartment_id": city.home.id, "person_id": person.json()["id"]} | body
    response = client.post("/api/v1/residences", json=payload, headers=city.headers["admin"])
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_the_register_reaches_back_to_privatisation(client, city: City):
    person = client.post("/api/v1/people", json={"full_name": "Aziz Karimov"}, headers=city.headers["admin"])
    payload = {"apartment_id": city.home.id, "person_id": person.json()["id"], "valid_from": "1993-06-01"}
    response = client.post("/api/v1/residences", json=payload, headers=city.headers["admin"])
    assert response.status_code == 201, response.text
    assert response.json()["valid_from"] == "1993-06-01"


# NUL and other control characters: PostgreSQL refuses NUL in text, XML cannot carry them.

CONTROL = [NUL, "a\x1bb", "a\x7fb", "a\ud800b"]


@pytest.mark.parametrize("text", CONTROL, ids=["NUL", "ESC", "DEL", "lone surrogate"])
@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/v1/districts", {"name": "{x}"}, "name"),
        ("POST", "/api/v1/people", {"full_name": "{x}"}, "full_name"),
        ("PATCH", "/api/v1/people/1", {"full_name": "{x}"}, "full_name"),
        ("POST", "/api/v1/requests/1/comments", {"body": "{x}"}, "body"),
        ("POST", "/api/v1/tariffs", {"note": "{x}"}, "note"),
    ],
)
def test_a_control_character_in_a_json_body_is_422_naming_it(
    client, city: City, method, url, body, field, text
):
    payload = {key: value.replace("{x}", text) for key, value in body.items()}
    headers = city.headers["admin"] | {"Content-Type": "application/json"}
    response = client.request(method, url, content=json.dumps(payload), headers=headers)  # \ud800 escaped
    assert response.status_code == 422, response.text
    assert _names(response, field), response.text


@pytest.mark.parametrize("text", ["a%00b", "a%1Bb"], ids=["NUL", "ESC"])
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/requests?category={x}", "category"),
        ("/console/requests?category={x}", "category"),
        ("/console/debtors?sort={x}", "sort"),
        ("/console/payments?gateway={x}", "gateway"),
        ("/console/payments/reconciliation?day={x}", "day"),
        ("/api/v1/reconciliation-differences?kind={x}", "kind"),
        ("/city/requests?district_id={x}", "district_id"),
        ("/open311/v2/services/{x}.json", None),
        ("/open311/v2/requests.json?service_code={x}", None),
    ],
)
def test_a_control_character_in_a_filter_or_path_is_a_4xx(client, city: City, url, field, text):
    response = client.get(
        url.replace("{x}", text), headers=city.headers["admin"] | {"Accept": "application/json"}
    )
    if url.startswith("/open311"):
        assert response.status_code == 400, response.text
        assert response.json()[0]["code"] == 400
        return
    assert response.status_code == 422, response.text
    assert _names(response, field), response.text


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_nul_in_the_login_form_is_refused_before_anyone_logs_in(client, city: City, field):
    """The log-in page (no session yet) and the token endpoint alike."""
    fields = {"username": "admin", "password": "not-the-password"} | {field: NUL}
    browser = TestClient(client.app)
    page = browser.get("/login")
    response = browser.post("/login", data={"csrftoken": csrf_token(page.text), **fields})
    assert response.status_code == 422, response.text
    token = TestClient(client.app).post("/api/v1/auth/token", data=fields)
    assert token.status_code == 422, token.text
    assert token.json()["field"] == field


def test_tabs_and_line_breaks_are_still_text(client, city: City):
    body = {"body": "first line\r\nsecond\tline"}
    response = client.post(
        f"/api/v1/requests/{city.home_request.id}/comments", json=body, headers=city.headers["admin"]
    )
    assert response.status_code == 201, response.text
    detail = client.get(f"/api/v1/requests/{city.home_request.id}", headers=city.headers["admin"]).json()
    assert detail["comments"][-1]["body"] == "first line\r\nsecond\tline"


# Booleans are not numbers, numbers are not booleans.


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("PATCH", "/api/v1/buildings/{b}", {"longitude": False}, "longitude"),
        ("PATCH", "/api/v1/buildings/{b}", {"floors": True}, "floors"),
        ("PATCH", "/api/v1/apartments/{a}", {"rooms": True}, "rooms"),
        ("PATCH", "/api/v1/apartments/{a}", {"area_m2": False}, "area_m2"),
        ("POST", "/api/v1/apartments/{a}/payments/manual", {"amount_minor": True}, "amount_minor"),
        ("PATCH", "/api/v1/users/1", {"is_active": 0}, "is_active"),
        ("PATCH", "/api/v1/users/1", {"is_active": "no"}, "is_active"),
        ("POST", "/api/v1/requests", {"category_id": True}, "category_id"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_422(client, city: City, method, url, body, field):
    url = url.format(b=city.building_a.id, a=city.home.id)
    response = _as_someone_allowed(client, city, method, url, json=body)
    assert response.status_code == 422, response.text
    assert _names(response, field), response.text


def test_longitude_false_is_not_stored_as_zero(client, city: City):
    url = f"/api/v1/buildings/{city.building_a.id}"
    before = client.get(url, headers=city.headers["admin"]).json()["longitude"]
    client.patch(url, json={"longitude": False}, headers=city.headers["admin"])
    assert client.get(url, headers=city.headers["admin"]).json()["longitude"] == before != 0


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/apartments", {"building_id": 2**31}, "building_id"),
        ("/api/v1/requests", {"category_id": 2**63}, "category_id"),
        ("/api/v1/apartments/{a}/payments/manual", {"amount_minor": 2**63}, "amount_minor"),
        ("/api/v1/tariffs", {"service_id": -1}, "service_id"),
    ],
)
def test_a_number_out_of_range_in_a_body_is_422(client, city: City, url, body, field):
    response = _as_someone_allowed(client, city, "POST", url.format(a=city.home.id), json=body)
    assert response.status_code == 422, response.text
    assert _names(response, field), response.text


# Open311: every error is the spec's list, in the format the path asks for.


@pytest.mark.parametrize("request_id", ["%C2%B2", "99999999999999999999", str(2**31), "0", "-1", "1e3"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_an_id_that_is_not_ours_is_404_in_the_specs_list(client, city: City, request_id, fmt):
    _assert_open311_error(client.get(f"/open311/v2/requests/{request_id}.{fmt}"), fmt, 404)


def _assert_open311_error(response, fmt: str, code: int) -> None:
    """The status, and the same code in the spec's error list, as JSON or as XML."""
    assert response.status_code == code, response.text
    if fmt == "json":
        assert response.json()[0]["code"] == code
    else:
        assert ET.fromstring(response.content).find("error/code").text == str(code)


@pytest.mark.parametrize(
    "query",
    [
        "service_request_id=%C2%B2",
        f"service_request_id=1,{2**31}",
        "start_date=0001-01-01T00:00:00Z",
        "end_date=9999-12-31T23:59:59%2B05:00",
        "start_date=9999-12-31T00:00:00Z",
        "status=op%00en",
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_bad_filters_are_400_in_the_specs_list(client, city: City, query, fmt):
    _assert_open311_error(client.get(f"/open311/v2/requests.{fmt}?{query}"), fmt, 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address_id", "%C2%B2"),
        ("address_id", str(2**63)),
        ("description", "Roof\x00leaks"),
        ("lat", "4\x001"),
    ],
)
def test_open311_a_bad_filing_is_400_in_the_specs_list(client, city: City, field, value):
    form = {"service_code": "roof_leak", "description": "The roof leaks", "address_id": "1", "api_key": "x"}
    form[field] = value.replace("%C2%B2", "\u00b2")
    response = client.post("/open311/v2/requests.json", data=form)
    assert response.status_code in (400, 403), response.text  # a bad key may be told first
    assert response.json()[0]["code"] == response.status_code


# Payme's merchant API: a fault of every class is answered 200 with its JSON-RPC error (Payme
# reads nothing else), and nothing is stored. Its own tests: tests/api/test_payme_merchant.py.


@pytest.fixture
def payme(database_url, db):
    app = create_app(make_settings(database_url, payme=payme_group()), engine=db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Payme.through(client)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id": NUL}, -32600),
        ({"id": "a\ud800b"}, -32600),
        ({"id": 2**63}, -32600),
        ({"account": {FIELD: NUL}}, -31050),
        ({"account": {FIELD: "1\x1b2"}}, -31050),
        ({"account": {FIELD: "a\ud800b"}}, -31050),
        ({"account": {FIELD: 2**64 + 1}}, -31050),
        ({"amount": 2**31}, -31001),  # over the limit, not a database error
        ({"amount": 2**63}, -31001),
        ({"amount": 2**64 + 1}, -31001),
        ({"amount": -(2**63) - 1}, -31001),
        ({"amount": True}, -32600),
        ({"amount": "500000"}, -32600),
        ({"time": 2**63}, -32600),
        ({"time": 0}, -32600),
        ({"time": False}, -32600),
        ({"time": "2026-11-01T00:00:00+05:00"}, -32600),
    ],
)
def test_payme_hostile_values_are_its_own_errors_answered_200(payme, city: City, change, code):
    params = {"id": transaction_id(), "time": 1_793_523_600_000, "amount": 500_000}
    params |= {"account": {FIELD: city.home.account_number}} | change
    assert payme.call("CreateTransaction", params).code == code
    assert payme.call("GetStatement", {"from": 946_684_800_000, "to": 4_102_444_799_000}).result == {
        "transactions": []
    }


# The catch-all: whatever slips through is logged and answered in the path's format.


@pytest.fixture
def failing_app(settings, db):
    app = create_app(settings, engine=db)

    @app.get("/api/v1/boom")
    @app.get("/open311/v2/boom.json")
    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    return app


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/api/v1/boom", "application/problem+json"),
        ("/open311/v2/boom.json", "application/json"),
        ("/boom", "text/html"),
    ],
)
def test_an_unexpected_error_is_logged_and_answered_in_the_paths_format(
    failing_app, caplog, path, media_type
):
    with TestClient(failing_app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get(path, headers={"Accept": "text/html" if media_type == "text/html" else "*/*"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith(media_type)
    assert "Internal Server Error" not in response.text  # not Starlette's plain text
    logged = [r for r in caplog.records if r.name == "housing.app" and path in r.getMessage()]
    assert logged and logged[0].exc_info[0] is RuntimeError


def test_the_documented_errors_are_problem_json(app):
    """The OpenAPI document says what the handlers send."""
    spec = app.openapi()
    district = spec["paths"]["/api/v1/districts/{district_id}"]
    assert set(district["get"]["responses"]) >= {"200", "401", "403", "404", "422"}
    assert list(district["get"]["responses"]["404"]["content"]) == ["application/problem+json"]
    assert set(district["patch"]["responses"]) >= {"409", "413", "400"}
    assert "429" in spec["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "503" in spec["paths"]["/api/v1/apartments/{apartment_id}/payments"]["post"]["responses"]
    open311 = spec["paths"]["/open311/v2/requests.{fmt}"]["get"]["responses"]
    assert set(open311["4XX"]["content"]) == {"application/json", "text/xml"}
    assert not [
        (path, method, status)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("4")
        and "application/json" in response.get("content", {})
        and "open311" not in path
    ]


def test_an_earlier_day_than_allowed_is_refused_and_a_later_one_is_in_the_future(client, city: City):
    """The 2000..2100 range is the type's; "not in the future" stays the route's own rule."""
    # The city's tomorrow: from 19:00 UTC the machine's date is still the city's yesterday.
    url, _, body = _manual_payment(city, (local_today(CITY_TIMEZONE) + timedelta(days=1)).isoformat())
    response = client.post(url, json=body, headers=city.headers["admin"])
    assert response.status_code == 422
    assert response.json()["field"] == "paid_on"


# Routes a payment provider calls answer 200 in the provider's own format, whatever they are
# sent (the provider reads nothing else): found by their mark in the OpenAPI document, so a
# new provider's routes are covered the day they are added. Served with each provider set up,
# so that the body is read and not refused for want of settings.

PROVIDER_ROUTES = [
    path
    for path, operations in create_app(make_settings("sqlite://")).openapi()["paths"].items()
    if operations.get("post", {}).get(PROVIDER_ANSWERS)
]
HOSTILE_BODIES = [
    (b"", "application/x-www-form-urlencoded"),
    (b"a=\x00&b=%00&c=%1B&d=%ED%A0%80", "application/x-www-form-urlencoded"),
    (
        b"click_trans_id=" + str(2**64).encode() + b"&amount=-1e309&action=NaN",
        "application/x-www-form-urlencoded",
    ),
    (
        b"amount=1&amount=2&" + b"&".join(b"f%d=1" % n for n in range(2000)),
        "application/x-www-form-urlencoded",
    ),
    (b'{"id": 1, "method": "CheckPerformTransaction", "params": {"amount": 1e400}}', "application/json"),
    (b"[true, null, 18446744073709551617]", "application/json"),
    (b"\xff\xfe\x00\x01", "application/octet-stream"),
    (
        b'--x\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n1\r\n--x--',
        "multipart/form-data; boundary=x",
    ),
    (b"x=" + b"9" * (2 * 1024 * 1024), "application/x-www-form-urlencoded"),  # over every body limit
]


@pytest.fixture
def provider_client(database_url, db):
    settings = make_settings(database_url, click=click_group())
    with TestClient(create_app(settings, engine=db), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("content", "content_type"), HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
@pytest.mark.parametrize("path", PROVIDER_ROUTES)
def test_a_provider_route_answers_200_json_whatever_it_is_sent(provider_client, path, content, content_type):
    cookies = {"Cookie": "session=a-browsers; csrftoken=t"}  # no CSRF check: the provider signs
    for headers in ({"Content-Type": content_type}, {"Content-Type": content_type} | cookies):
        response = provider_client.post(path, content=content, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()


def test_the_provider_routes_are_found():
    assert {"/api/v1/merchant/click/prepare", "/api/v1/merchant/click/complete"} <= set(PROVIDER_ROUTES)
