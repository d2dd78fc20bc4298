"""Open311 GeoReport v2 at /open311/v2: services, definitions, requests (list, one, create),
in JSON and XML, every answer checked against the spec rules in tests/open311_spec.py.

Two Open311 client packages from PyPI are driven against the app served by uvicorn on
127.0.0.1: georeport (reads only, JSON and XML) and civicbot (its GeoReport client also
files requests). The older clients open311 1.1 and three 0.8 do not import on Python 3.
"""

import socket
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
import requests
from civicbot import Endpoint, HttpError, HttpTransport, Open311Client
from civicbot.http import RateLimiter
from civicbot.open311 import CONFIRM_TOKEN
from georeport import GeoReport
from sqlmodel import Session, select
from typer.testing import CliRunner

from housing import cli
from housing.accounts.models import Role
from housing.errors import Invalid
from housing.open311 import endpoints
from housing.open311.models import Open311ApiKey
from housing.open311.service import create_api_key, deactivate_api_key
from housing.requests.models import RequestTransition, ServiceRequest
from tests import open311_spec
from tests.factories.core import login, make_apartment, make_owner, make_user
from tests.factories.requests import make_category
from tests.servers import serving_in_thread

BASE = "/open311/v2"
JURISDICTION = "tashkent.uz"
# Building A of the city fixture, and a point 40 m north of it (a phone's fix at the entrance).
HERE = (41.3111, 69.2797)
NEAR = (41.31146, 69.2797)
FAR_AWAY = (41.3300, 69.3000)  # building B


class Open311:
    """The city, its request categories, and a key filing as a dedicated gateway user."""

    def __init__(self, session: Session, city) -> None:
        for building, (lat, lon) in ((city.building_a, HERE), (city.building_b, FAR_AWAY)):
            building.latitude, building.longitude = lat, lon
            session.add(building)
        # Start from no requests: the shared city files one for the resident; drop it here.
        for row in session.exec(
            select(RequestTransition).where(RequestTransition.request_id == city.home_request.id)
        ):
            session.delete(row)
        session.flush()
        session.delete(city.home_request)
        self.roof = city.category  # the city's roof_leak category
        self.roof.deadline_minutes = 24 * 60
        session.add(self.roof)
        self.gas = make_category(
            session, code="gas_smell", name="Gas smell", deadline_minutes=30, emergency=True
        )
        self.retired = make_category(
            session, code="old_kind", name="Retired", deadline_minutes=60, active=False
        )
        self.gateway = make_user(session, Role.official, username="open311-gateway")
        self.key, _ = create_api_key(session, name="Tashkent 311 app", username="open311-gateway")
        session.commit()
        self.city = city


@pytest.fixture
def o311(session, city) -> Open311:
    return Open311(session, city)


def call(client, method: str, path: str, kind: str, status: int, **kw):
    """One Open311 call: its status, its media type, the spec rules, then the parsed body."""
    response = client.request(method, f"{BASE}/{path}", **kw)
    fmt = path.split("?")[0].rsplit(".", 1)[-1]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == (
        "application/json; charset=utf-8" if fmt == "json" else "text/xml; charset=utf-8"
    )
    assert open311_spec.problems(kind, fmt, response.content) == []
    return response.json() if fmt == "json" else ET.fromstring(response.content)


def error_of(client, method: str, path: str, status: int, **kw) -> str:
    """The description of the one error the call answers, after checking the spec's format."""
    body = call(client, method, path, "errors", status, **kw)
    if isinstance(body, list):
        assert [e["code"] for e in body] == [status]
        return body[0]["description"]
    assert body.findtext("error/code") == str(status)
    return body.findtext("error/description")


def file(client, o311: Open311, fmt: str = "json", status: int = 201, **fields):
    form = {
        "api_key": o311.key,
        "jurisdiction_id": JURISDICTION,
        "service_code": "roof_leak",
        "lat": str(NEAR[0]),
        "long": str(NEAR[1]),
        "description": "Water comes through the roof above the stairwell",
    } | fields
    form = {name: value for name, value in form.items() if value is not None}
    kind = "created" if status < 400 else "errors"
    return call(client, "POST", f"requests.{fmt}", kind, status, data=form)


def resident_request(client, o311: Open311, description: str = "The entrance door does not close") -> int:
    """A request a resident files for their own apartment through the JSON API."""
    response = client.post(
        "/api/v1/requests",
        json={"apartment_id": o311.city.home.id, "category_id": o311.roof.id, "description": description},
        headers=o311.city.headers["resident"],
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def resolve(client, o311: Open311, request_id: int) -> None:
    for to in ("accepted", "resolved"):
        response = client.post(
            f"/api/v1/requests/{request_id}/transitions",
            json={"to": to},
            headers=o311.city.headers["manager"],
        )
        assert response.status_code == 201, response.text


# Services and their definitions


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_are_the_active_request_categories(client, o311, fmt):
    body = call(client, "GET", f"services.{fmt}?jurisdiction_id={JURISDICTION}", "services", 200)

    if fmt == "json":
        services = {s["service_code"]: s for s in body}
        assert services["gas_smell"]["group"] == "Emergencies"
        assert services["roof_leak"]["metadata"] is True
        assert services["roof_leak"]["type"] == "realtime"
    else:
        services = {s.findtext("service_code"): s for s in body}
        assert services["roof_leak"].findtext("service_name") == "Roof leak"
    assert sorted(services) == ["gas_smell", "roof_leak"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_service_definition_offers_the_emergency_attribute(client, o311, fmt):
    body = call(client, "GET", f"services/roof_leak.{fmt}", "definition", 200)

    if fmt == "json":
        assert body["service_code"] == "roof_leak"
        assert [a["code"] for a in body["attributes"]] == ["emergency"]
        assert [v["key"] for v in body["attributes"][0]["values"]] == ["yes", "no"]
    else:
        assert body.findtext("service_code") == "roof_leak"
        assert body.findtext("attributes/attribute/datatype") == "singlevaluelist"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_or_retired_service_has_no_definition(client, o311, fmt):
    assert "not found" in error_of(client, "GET", f"services/no_such_thing.{fmt}", 404)
    assert "not found" in error_of(client, "GET", f"services/old_kind.{fmt}", 404)


# Filing a request


def test_a_request_filed_by_lat_long_goes_to_the_nearest_building(client, session, o311):
    created = file(client, o311)

    request_id = int(created[0]["service_request_id"])
    assert created[0]["service_notice"] == "The management company must resolve it within 1 day"
    assert created[0]["account_id"] is None
    # The company managing the building sees it in its queue, filed by the key's user.
    response = client.get(f"/api/v1/requests/{request_id}", headers=o311.city.headers["manager"])
    assert response.status_code == 200, response.text
    filed = response.json()
    assert filed["building_id"] == o311.city.building_a.id
    assert filed["company_id"] == o311.city.company_a.id
    assert filed["filed_by_id"] == o311.gateway.id
    assert (filed["apartment_id"], filed["requester_person_id"]) == (None, None)
    assert filed["emergency"] is False
    assert filed["status"] == "new"


def test_a_request_filed_in_xml_by_address_id_or_address(client, o311):
    by_id = file(client, o311, "xml", lat=None, long=None, address_id=str(o311.city.building_b.id))
    by_address = file(
        client,
        o311,
        "xml",
        lat=None,
        long=None,
        address_string=f"  {o311.city.building_a.address.upper()} ",
        description="The roof leaks again in another place",
    )

    for created, building in ((by_id, o311.city.building_b), (by_address, o311.city.building_a)):
        request_id = created.findtext("request/service_request_id")
        one = call(client, "GET", f"requests/{request_id}.json", "requests", 200)
        assert one[0]["address_id"] == str(building.id)
        assert one[0]["address"] == building.address


def test_the_emergency_attribute_sets_the_deadline(client, o311):
    created = file(client, o311, **{"attribute[emergency]": "yes"})

    assert (
        created[0]["service_notice"] == "Emergency: the management company must contain it within 30 minutes"
    )
    one = call(client, "GET", f"requests/{created[0]['service_request_id']}.json", "requests", 200)[0]
    assert one["service_notice"] == created[0]["service_notice"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_bad_api_key_is_403_and_files_nothing(client, session, o311, fmt):
    description = error_of(
        client,
        "POST",
        f"requests.{fmt}",
        403,
        data={
            "api_key": "not-a-key",
            "service_code": "roof_leak",
            "address_id": str(o311.city.building_a.id),
        },
    )

    assert description == "api_key is not valid"
    assert session.exec(select(ServiceRequest)).all() == []


def test_a_missing_or_deactivated_key_is_403(client, session, o311):
    form = {
        "service_code": "roof_leak",
        "lat": str(HERE[0]),
        "long": str(HERE[1]),
        "description": "Roof leaks",
    }
    assert (
        error_of(client, "POST", "requests.json", 403, data=form) == "api_key is required to file a request"
    )

    deactivate_api_key(session, name="Tashkent 311 app")
    session.commit()
    assert (
        error_of(client, "POST", "requests.xml", 403, data=form | {"api_key": o311.key})
        == "api_key is not valid"
    )


def test_the_key_is_checked_before_the_input(client, o311):
    # A client without a valid key learns nothing about what else is wrong.
    assert error_of(client, "POST", "requests.json", 403, data={"api_key": "nope", "lat": "north"}) == (
        "api_key is not valid"
    )


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_code_is_404(client, session, o311, fmt):
    body = file(client, o311, fmt, status=404, service_code="pothole")
    description = body[0]["description"] if fmt == "json" else body.findtext("error/description")

    assert "service_code 'pothole'" in description
    assert session.exec(select(ServiceRequest)).all() == []


def test_a_retired_service_takes_no_requests(client, o311):
    assert "old_kind" in file(client, o311, status=404, service_code="old_kind")[0]["description"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"service_code": None}, "service_code is required"),
        ({"lat": None, "long": None}, "say where"),
        ({"long": None}, "lat and long go together"),
        ({"description": None}, "description is required"),
        ({"lat": "forty-one"}, "lat must be a number"),
        ({"attribute[emergency]": "maybe"}, "must be yes or no"),
    ],
)
def test_missing_or_malformed_fields_are_400(client, o311, fields, message):
    assert message in file(client, o311, status=400, **fields)[0]["description"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lat": str(HERE[0] + 0.01), "long": str(HERE[1])}, "no building of ours within 150 m"),
        ({"lat": None, "long": None, "address_id": "999999"}, "address_id 999999"),
        ({"lat": None, "long": None, "address_string": "Nowhere street 1"}, "no building of ours at"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_location_is_400(client, session, o311, fields, message, fmt):
    body = file(client, o311, fmt, status=400, **fields)
    description = body[0]["description"] if fmt == "json" else body.findtext("error/description")

    assert message in description
    assert session.exec(select(ServiceRequest)).all() == []


def test_the_same_request_twice_a_day_is_refused_by_the_request_rules(client, o311):
    file(client, o311)
    assert "already filed today" in file(client, o311, status=409)[0]["description"]


def test_another_jurisdiction_is_404(client, o311):
    assert (
        "jurisdiction_id 'boston.gov'"
        in file(client, o311, status=404, jurisdiction_id="boston.gov")[0]["description"]
    )
    assert "boston.gov" in error_of(client, "GET", "services.xml?jurisdiction_id=boston.gov", 404)


# Reading requests


def test_lists_show_public_facts_only(client, session, o311):
    apartment = make_apartment(
        session, o311.city.building_a, number="kv-secret-17", account_number="ACC-99173"
    )
    person = make_owner(session, apartment, full_name="Dilnoza Karimova", phone="+998 90 555 14 27")
    user = make_user(session, Role.resident, username="dilnoza", person_id=person.id)
    session.commit()
    response = client.post(
        "/api/v1/requests",
        json={"apartment_id": apartment.id, "category_id": o311.roof.id, "description": "No water pressure"},
        headers=login(client, user.username),
    )
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]

    bodies = [
        client.get(f"{BASE}/{path}").text
        for path in (
            "requests.json",
            "requests.xml",
            f"requests/{request_id}.json",
            f"requests/{request_id}.xml",
        )
    ]

    assert all("No water pressure" in body for body in bodies)
    for secret in ("Karimova", "555 14 27", "kv-secret-17", "ACC-99173", "dilnoza", "resident"):
        assert not any(secret in body for body in bodies), secret


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_one_request_by_id(client, o311, fmt):
    request_id = resident_request(client, o311)

    body = call(client, "GET", f"requests/{request_id}.{fmt}", "requests", 200)

    if fmt == "json":
        assert len(body) == 1
        one = body[0]
        assert (one["lat"], one["long"]) == HERE
        assert one["requested_datetime"].endswith("+05:00")
        assert one["expected_datetime"].endswith("+05:00")
    else:
        assert [e.tag for e in body] == ["request"]
        one = {child.tag: child.text for child in body[0]}
    assert one["service_request_id"] == str(request_id)
    assert one["status"] == "open"
    assert one["service_code"] == "roof_leak"
    assert one["agency_responsible"] == o311.city.company_a.name
    assert one["address"] == o311.city.building_a.address


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_request_is_404(client, o311, fmt):
    assert "not found" in error_of(client, "GET", f"requests/999999.{fmt}", 404)
    assert "not found" in error_of(client, "GET", f"requests/abc.{fmt}", 404)


def test_list_filters(client, o311):
    first = resident_request(client, o311, "The entrance door does not close")
    second = resident_request(client, o311, "The lift stops between floors")
    resolve(client, o311, second)
    emergency = int(file(client, o311, service_code="gas_smell")[0]["service_request_id"])

    def ids(query: str) -> list[int]:
        return [
            int(r["service_request_id"])
            for r in call(client, "GET", f"requests.json?{query}", "requests", 200)
        ]

    assert ids("") == [emergency, second, first]  # newest first
    assert ids(f"service_request_id={first},{emergency}&status=closed") == [emergency, first]
    assert ids("service_code=gas_smell") == [emergency]
    assert ids("service_code=roof_leak,gas_smell&status=open") == [emergency, first]
    assert ids("status=closed") == [second]
    assert ids("status=open,closed") == [emergency, second, first]
    closed = call(client, "GET", "requests.xml?status=closed", "requests", 200)
    assert [r.findtext("status") for r in closed] == ["closed"]
    assert closed.find("request/expected_datetime").text is None


def test_date_filters_need_an_offset_and_a_window_of_90_days(client, o311):
    request_id = resident_request(client, o311)
    requested = call(client, "GET", f"requests/{request_id}.json", "requests", 200)[0]["requested_datetime"]
    day = requested[:10]

    def ids(query: str) -> list[int]:
        return [
            int(r["service_request_id"])
            for r in call(client, "GET", f"requests.json?{query}", "requests", 200)
        ]

    assert ids(f"start_date={day}T00:00:00%2B05:00&end_date={day}T23:59:59%2B05:00") == [request_id]
    assert ids("start_date=2020-01-01T00:00:00Z&end_date=2020-03-01T00:00:00Z") == []
    assert "offset" in error_of(client, "GET", f"requests.json?start_date={day}T00:00:00", 400)
    assert "90 days" in error_of(
        client, "GET", "requests.xml?start_date=2020-01-01T00:00:00Z&end_date=2021-01-01T00:00:00Z", 400
    )
    assert "open or closed" in error_of(client, "GET", "requests.json?status=pending", 400)


# The app's own error handlers stay out of the way


def test_open311_errors_are_never_problem_json(client, o311):
    for path in ("services.html", "no/such/method.json", "requests/1.yaml"):
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 404
        assert "problem" not in response.headers["content-type"]
        fmt = "json" if path.endswith(".json") else "xml"
        assert open311_spec.problems("errors", fmt, response.content) == []
    # ...while the JSON API keeps its problem details.
    assert client.get("/api/v1/requests/999999").headers["content-type"] == "application/problem+json"


def test_an_error_after_filing_rolls_the_request_back(client, session, o311, monkeypatch):
    # Errors are answered in the spec's format only after the transaction saw the exception.
    def fail(*args, **kwargs):
        raise Invalid("the answer could not be made")

    monkeypatch.setattr(endpoints.schemas, "created_dict", fail)

    assert file(client, o311, status=400)[0]["description"] == "the answer could not be made"
    assert session.exec(select(ServiceRequest)).all() == []


def test_a_wrong_method_is_405_in_the_spec_format(client, o311):
    assert error_of(client, "POST", "services.json", 405) == "Method Not Allowed"


# The API key itself


def test_only_the_hash_of_a_key_is_stored(session, o311):
    record = session.exec(select(Open311ApiKey)).one()
    assert record.key_hash != o311.key
    assert len(record.key_hash) == 64
    assert record.user_id == o311.gateway.id


def test_the_command_line_creates_a_key_that_files(client, database_url, session, o311):
    env = {"HOUSING_DB__URL": database_url, "HOUSING_ENVIRONMENT": "development", "COLUMNS": "200"}
    result = CliRunner().invoke(
        cli.app, ["open311", "keys", "create", "--name", "district app", "--user", "open311-gateway"], env=env
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]

    file(client, o311, api_key=key)
    again = CliRunner().invoke(
        cli.app, ["open311", "keys", "create", "--name", "district app", "--user", "open311-gateway"], env=env
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    resident = CliRunner().invoke(
        cli.app, ["open311", "keys", "create", "--name", "mine", "--user", "resident"], env=env
    )
    assert resident.exit_code == 1
    assert "not a resident" in resident.output


# Open311 clients from PyPI, against the app served on 127.0.0.1


@pytest.fixture
def served(app) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    with serving_in_thread(app, sock) as url:
        yield url + BASE


def test_georeport_reads_services_and_requests_in_json(client, o311, served):
    first = resident_request(client, o311)
    second = resident_request(client, o311, "The lift stops between floors")
    resolve(client, o311, second)
    georeport = GeoReport(served, jurisdiction=JURISDICTION)

    assert [s["service_code"] for s in georeport.get_service_list()] == ["gas_smell", "roof_leak"]
    assert georeport.get_service_definition("gas_smell")["attributes"][0]["code"] == "emergency"
    opened = georeport.get_service_requests(status="open", service_code="roof_leak")
    assert [r["service_request_id"] for r in opened] == [str(first)]
    both = georeport.get_service_requests(service_request_id=f"{first},{second}")
    assert {r["service_request_id"]: r["status"] for r in both} == {str(first): "open", str(second): "closed"}
    one = georeport.get_service_request(str(second))
    assert one["status"] == "closed"
    assert one["updated_datetime"].endswith("+05:00")


def test_georeport_reads_services_and_requests_in_xml(client, o311, served):
    first = resident_request(client, o311)
    second = resident_request(client, o311, "The lift stops between floors")
    georeport = GeoReport(served, jurisdiction=JURISDICTION, output_format="xml")

    services = georeport.get_service_list()
    assert [s["service_code"] for s in services] == ["gas_smell", "roof_leak"]
    assert services[1]["metadata"] == "true"
    definition = georeport.get_service_definition("roof_leak")
    assert [v["key"] for v in definition["attributes"]["attribute"]["values"]["value"]] == ["yes", "no"]
    # (georeport cannot read an empty XML list: xmltodict makes <service_requests/> None.)
    both = georeport.get_service_requests(status="open")
    assert [r["service_request_id"] for r in both] == [str(second), str(first)]
    one = georeport.get_service_request(str(first))
    assert one["address"] == o311.city.building_a.address
    assert float(one["lat"]) == HERE[0]


def test_georeport_sees_spec_errors(o311, served):
    with pytest.raises(requests.HTTPError) as raised:
        GeoReport(served, output_format="xml").get_service_definition("pothole")
    assert raised.value.response.status_code == 404
    assert open311_spec.problems("errors", "xml", raised.value.response.content) == []

    with pytest.raises(requests.HTTPError) as raised:
        GeoReport(served, jurisdiction="boston.gov").get_service_list()
    assert raised.value.response.status_code == 404
    assert open311_spec.problems("errors", "json", raised.value.response.content) == []


def civicbot_client(served: str) -> Open311Client:
    endpoint = Endpoint(id="tashkent", name="Tashkent", base_url=served, write=True)
    # No pause between calls: its politeness delay is for other people's servers.
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0))
    return Open311Client(endpoint, transport, jurisdiction_id=JURISDICTION)


def test_civicbot_files_a_request_and_reads_it_back(client, o311, served):
    civic = civicbot_client(served)

    sent = civic.create_request(
        "gas_smell",
        dry_run=False,
        confirm=CONFIRM_TOKEN,
        api_key=o311.key,
        validate_remote=True,  # reads services.json and the definition first
        lat=NEAR[0],
        lng=NEAR[1],
        description="Smell of gas on the third floor landing",
        attributes={"emergency": "yes"},
        first_name="Aziz",
        phone="+998 90 000 00 00",
    )

    request_id = sent.response[0]["service_request_id"]
    one = civic.get_request(request_id)
    assert one["service_code"] == "gas_smell"
    assert one["description"] == "Smell of gas on the third floor landing"
    assert one["address_id"] == str(o311.city.building_a.id)
    assert "Aziz" not in str(one) and "000 00 00" not in str(one)
    assert [r["service_request_id"] for r in civic.list_requests(service_request_ids=[request_id])] == [
        request_id
    ]


def test_civicbot_hears_403_for_a_bad_key(session, o311, served):
    with pytest.raises(HttpError) as raised:
        civicbot_client(served).create_request(
            "roof_leak", dry_run=False, confirm=CONFIRM_TOKEN, api_key="wrong", lat=HERE[0], lng=HERE[1]
        )

    assert raised.value.status == 403
    assert open311_spec.problems("errors", "json", raised.value.body.encode()) == []
    assert session.exec(select(ServiceRequest)).all() == []


# Whatever text is stored, every XML answer parses


def _hostile(client, session, o311: Open311) -> tuple[int, str, str]:
    """A request whose description and building address hold every C0 control character (NUL
    only where the database stores it), as a row that reached the database by any path."""
    request_id = resident_request(client, o311)
    first = 0 if session.get_bind().dialect.name == "sqlite" else 1  # PostgreSQL text holds no NUL
    controls = "".join(chr(c) for c in range(first, 0x20)) + "\x7f"
    row = session.get(ServiceRequest, request_id)
    row.description = f"Leak{controls}\x1b[31m in the stairwell"
    building = o311.city.building_a
    building.address = "Amir Temur\x1b 5\x0b"
    session.add_all([row, building])
    session.commit()
    # What a client reads: the tab, line feed and carriage return stay (an XML parser reads CR
    # as LF), every other C0 character is gone, DEL (allowed in XML 1.0) stays.
    description = "Leak\t\n\n\x7f[31m in the stairwell"
    return request_id, description, "Amir Temur 5"


@pytest.mark.parametrize("path", ["requests.xml", "requests/{id}.xml"])
def test_control_characters_in_stored_text_leave_the_xml_readable(client, session, o311, path):
    request_id, description, address = _hostile(client, session, o311)
    body = call(client, "GET", path.format(id=request_id), "requests", 200)
    (item,) = [r for r in body.iter("request") if r.findtext("service_request_id") == str(request_id)]
    assert item.findtext("description") == description
    assert item.findtext("address") == address
    # The JSON answer keeps the text as stored: JSON can carry every character.
    listed = call(client, "GET", path.format(id=request_id).replace(".xml", ".json"), "requests", 200)
    assert "\x1b[31m" in next(r for r in listed if r["service_request_id"] == str(request_id))["description"]


def test_an_xml_client_reads_the_whole_list_with_control_characters_in_it(client, session, o311, served):
    other = resident_request(client, o311, "The lift stops between floors")
    request_id, description, _ = _hostile(client, session, o311)
    listed = GeoReport(served, jurisdiction=JURISDICTION, output_format="xml").get_service_requests()
    assert {r["service_request_id"] for r in listed} == {str(request_id), str(other)}
    assert next(r for r in listed if r["service_request_id"] == str(request_id))["description"] == description
