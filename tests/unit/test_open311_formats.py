"""GeoReport v2 shapes and documents, without a database: statuses, times, filters, XML, and
the spec rules (tests/open311_spec.py) themselves."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest

from housing.errors import Invalid
from housing.open311 import formats, schemas
from housing.open311.locate import distance_m
from housing.registry.models import Building, ManagementCompany
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from housing.xmltext import xml_text
from tests import open311_spec

TZ = "Asia/Tashkent"
FILED = datetime(2026, 11, 17, 5, 0, tzinfo=UTC)  # 10:00 in Tashkent


def category(**kw) -> RequestCategory:
    return RequestCategory(
        **({"id": 3, "code": "roof_leak", "name": "Roof leak", "deadline_minutes": 24 * 60} | kw)
    )


def row(status: RequestStatus = RequestStatus.new, **kw):
    request = ServiceRequest(
        **(
            {
                "id": 42,
                "company_id": 1,
                "building_id": 7,
                "apartment_id": 99,
                "category_id": 3,
                "filed_by_id": 5,
                "requester_person_id": 6,
                "description": "Water drips from the ceiling",
                "status": status,
                "created_at": FILED,
                "updated_at": FILED + timedelta(hours=2),
                "deadline_at": FILED + timedelta(days=1),
            }
            | kw
        )
    )
    building = Building(
        id=7,
        address="Amir Temur ko'chasi 5",
        district_id=1,
        latitude=41.3111,
        longitude=69.2797,
        floors=9,
        total_area_m2=Decimal("4000"),
    )
    company = ManagementCompany(id=1, name="Yunusobod Servis", tax_id="300000001")
    return request, category(), building, company


# Statuses and times


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (RequestStatus.new, "open"),
        (RequestStatus.accepted, "open"),
        (RequestStatus.in_progress, "open"),
        (RequestStatus.deferred, "open"),
        (RequestStatus.reopened, "open"),
        (RequestStatus.resolved, "closed"),
        (RequestStatus.closed, "closed"),
        (RequestStatus.rejected, "closed"),
    ],
)
def test_every_status_of_ours_is_open_or_closed(ours, theirs):
    assert schemas.open311_status(ours) == theirs
    assert ours in schemas.our_statuses(theirs)
    assert schemas.request_dict(*row(ours), TZ)["status"] == theirs


def test_times_carry_the_city_offset():
    assert schemas.w3_datetime(FILED, TZ) == "2026-11-17T10:00:00+05:00"
    assert schemas.w3_datetime(None, TZ) is None


def test_a_datetime_without_an_offset_is_refused():
    with pytest.raises(Invalid, match="offset"):
        schemas.parse_w3_datetime("2026-11-17T10:00:00", "start_date")
    with pytest.raises(Invalid, match="w3 datetime"):
        schemas.parse_w3_datetime("17.11.2026", "start_date")
    assert schemas.parse_w3_datetime("2026-11-17T05:00:00Z", "start_date") == FILED
    assert schemas.parse_w3_datetime("2026-11-17T10:00:00+05:00", "start_date") == FILED


# A request as the public sees it


def test_a_request_shows_its_building_never_its_apartment_or_people():
    fields = schemas.request_dict(*row(), TZ)

    assert list(fields) == list(open311_spec.REQUEST)
    assert fields["service_request_id"] == "42"
    assert fields["address"] == "Amir Temur ko'chasi 5"
    assert fields["address_id"] == "7"
    assert (fields["lat"], fields["long"]) == (41.3111, 69.2797)
    assert fields["agency_responsible"] == "Yunusobod Servis"
    assert fields["requested_datetime"] == "2026-11-17T10:00:00+05:00"
    assert fields["updated_datetime"] == "2026-11-17T12:00:00+05:00"
    assert fields["expected_datetime"] == "2026-11-18T10:00:00+05:00"
    assert "99" not in json.dumps(fields)  # the apartment id
    assert fields["media_url"] is None


def test_a_closed_request_expects_nothing_more_and_an_overdue_one_says_so():
    closed = schemas.request_dict(*row(RequestStatus.rejected), TZ)
    late = schemas.request_dict(*row(RequestStatus.accepted, overdue=True), TZ)

    assert closed["expected_datetime"] is None
    assert closed["status_notes"] == "Rejected by the management company"
    assert late["status_notes"] == "Accepted by the management company; overdue"


@pytest.mark.parametrize(
    ("minutes", "emergency", "notice"),
    [
        (24 * 60, False, "The management company must resolve it within 1 day"),
        (120, False, "The management company must resolve it within 2 hours"),
        (90, False, "The management company must resolve it within 90 minutes"),
        (7 * 24 * 60, False, "The management company must resolve it within 7 days"),
        (24 * 60, True, "Emergency: the management company must contain it within 30 minutes"),
        (20, True, "Emergency: the management company must contain it within 20 minutes"),
    ],
)
def test_the_service_notice_says_the_deadline(minutes, emergency, notice):
    assert schemas.service_notice(category(deadline_minutes=minutes), emergency) == notice


# List filters


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def filters(**kw):
    args = {
        "service_request_id": None,
        "service_code": None,
        "start_date": None,
        "end_date": None,
        "status": None,
    }
    return schemas.filters_from(**(args | kw), now=NOW)


def test_a_list_defaults_to_the_last_90_days():
    got = filters()
    assert (got.start, got.end) == (NOW - timedelta(days=90), NOW)
    assert got.statuses == frozenset() and got.service_codes == ()


def test_one_bound_makes_a_90_day_window():
    got = filters(start_date="2026-10-01T00:00:00+05:00")
    assert got.end - got.start == timedelta(days=90)
    got = filters(end_date="2026-10-01T00:00:00+05:00")
    assert got.end - got.start == timedelta(days=90)


def test_ids_override_every_other_filter():
    got = filters(service_request_id="3, 5,8", status="bogus", start_date="not a date")
    assert got.ids == (3, 5, 8)


def test_filters_are_comma_separated():
    got = filters(service_code="roof_leak,lift", status="open")
    assert got.service_codes == ("roof_leak", "lift")
    assert got.statuses == frozenset(schemas.our_statuses("open"))
    assert filters(status="open,closed").statuses == frozenset(RequestStatus)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"status": "pending"}, "open or closed"),
        ({"service_request_id": "3,x"}, "numbers"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "after"),
        ({"end_date": "2026-06-01"}, "offset"),
    ],
)
def test_bad_filters_are_refused(kw, message):
    with pytest.raises(Invalid, match=message):
        filters(**kw)


# A new request's form


def form(**kw) -> schemas.RequestForm:
    fields = {"service_code": "roof_leak", "lat": "41.3111", "long": "69.2797", "description": "Roof leaks"}
    return schemas.RequestForm.model_validate(fields | kw)


def test_a_form_becomes_a_filing():
    filing = schemas.filing_from(form(**{"attribute[emergency]": "yes", "description": "  Roof  leaks "}))
    assert filing.place == schemas.Place(lat=41.3111, long=69.2797)
    assert filing.emergency is True
    assert filing.description == "Roof  leaks"
    assert schemas.filing_from(form(lat=None, long=None, address_id="7")).place.address_id == 7
    assert schemas.filing_from(form()).emergency is None


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"service_code": None}, "service_code is required"),
        ({"lat": None, "long": None}, "say where"),
        ({"long": None}, "go together"),
        ({"lat": "north"}, "number"),
        ({"lat": "91"}, "between"),
        ({"lat": None, "long": None, "address_id": "B-7"}, "not one of ours"),
        ({"description": None}, "description is required"),
        ({"description": "leak"}, "5 to 2000"),
        ({"description": "x" * 2001}, "5 to 2000"),
        ({"attribute[emergency]": "maybe"}, "yes or no"),
    ],
)
def test_a_bad_form_is_refused(kw, message):
    with pytest.raises(Invalid, match=message):
        schemas.filing_from(form(**kw))


def test_distance_between_points():
    # A thousandth of a degree of latitude is about 111 m anywhere.
    assert distance_m(41.311, 69.28, 41.312, 69.28) == pytest.approx(111.2, abs=0.5)
    assert distance_m(41.311, 69.28, 41.311, 69.28) == 0


# Documents


def test_xml_uses_the_spec_element_names():
    services = ET.fromstring(formats.to_xml("services", [schemas.service_dict(category())]))
    requests = ET.fromstring(formats.to_xml("service_requests", [schemas.request_dict(*row(), TZ)]))
    definition = ET.fromstring(formats.to_xml("service_definition", schemas.definition_dict(category())))

    assert [e.tag for e in services] == ["service"]
    assert services.findtext("service/metadata") == "true"
    assert [e.tag for e in requests] == ["request"]
    assert requests.findtext("request/lat") == "41.3111"
    # A field without a value is an empty element, not a missing one.
    assert requests.find("request/zipcode") is not None
    assert requests.find("request/zipcode").text is None
    assert [v.findtext("key") for v in definition.findall("attributes/attribute/values/value")] == [
        "yes",
        "no",
    ]


def test_errors_in_both_formats():
    as_json = json.loads(formats.render("json", "errors", formats.error_list(403, "api_key is not valid")))
    as_xml = ET.fromstring(formats.render("xml", "errors", formats.error_list(403, "a < b & ключ")))

    assert as_json == [{"code": 403, "description": "api_key is not valid"}]
    assert as_xml.tag == "errors"
    assert as_xml.findtext("error/code") == "403"
    assert as_xml.findtext("error/description") == "a < b & ключ"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_our_documents_keep_the_spec_rules(fmt):
    documents = {
        "services": (
            "services",
            [schemas.service_dict(category()), schemas.service_dict(category(emergency=True))],
        ),
        "definition": ("service_definition", schemas.definition_dict(category())),
        "requests": ("service_requests", [schemas.request_dict(*row(s), TZ) for s in RequestStatus]),
        "created": ("service_requests", [schemas.created_dict(row()[0], category())]),
        "errors": ("errors", formats.error_list(404, "service_code 'x' not found")),
    }
    for kind, (root, data) in documents.items():
        assert open311_spec.problems(kind, fmt, formats.render(fmt, root, data)) == [], kind


# The spec rules must catch what breaks them, or they check nothing.

GOOD_REQUEST = {
    "service_request_id": "1",
    "status": "open",
    "service_code": "roof_leak",
    "requested_datetime": "2026-11-17T10:00:00+05:00",
    "lat": 41.3,
    "long": 69.2,
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": "pending"}, "status must be one of open, closed"),
        ({"requested_datetime": "2026-11-17T10:00:00"}, "w3 datetime"),
        ({"requested_datetime": None}, "requested_datetime is required"),
        ({"service_request_id": 1}, "must be a string"),
        ({"lat": "41.3"}, "must be a number"),
        ({"apartment": "12"}, "apartment is not a GeoReport field"),
    ],
)
def test_the_rules_catch_a_bad_json_request(change, problem):
    assert open311_spec.problems("requests", "json", json.dumps([GOOD_REQUEST]).encode()) == []
    found = open311_spec.problems("requests", "json", json.dumps([GOOD_REQUEST | change]).encode())
    assert any(problem in p for p in found), found


@pytest.mark.parametrize(
    ("kind", "xml", "problem"),
    [
        ("requests", b"<service_requests><request><status>open</status></request></service_requests>", "is required"),
        ("requests", b"<requests><request/></requests>", "root element"),
        ("requests", b"<service_requests><item/></service_requests>", "not <item>"),
        ("services", b"<services><service><service_code>a</service_code><service_name>A</service_name>"
                     b"<metadata>yes</metadata><type>realtime</type></service></services>", "true or false"),
        ("errors", b"<errors/>", "at least one"),
        ("errors", b"<errors><error><code>E1</code><description>x</description></error></errors>", "integer"),
    ],
)  # fmt: skip
def test_the_rules_catch_a_bad_xml_document(kind, xml, problem):
    found = open311_spec.problems(kind, "xml", b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml)
    assert any(problem in p for p in found), found


def test_the_rules_want_the_declaration_and_a_list_of_values():
    assert open311_spec.problems("errors", "xml", b"<errors/>")[0].startswith("XML must start")
    no_values = {
        "service_code": "a",
        "attributes": [schemas.definition_dict(category())["attributes"][0] | {"values": []}],
    }
    found = open311_spec.problems("definition", "json", json.dumps(no_values).encode())
    assert any("lists its values" in p for p in found), found


# XML 1.0 cannot carry most control characters: they are dropped, by one helper


XML_FORBIDDEN = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + [
    "\ud800",
    "\udfff",
    "\ufffe",
    "\uffff",
]


@pytest.mark.parametrize("char", XML_FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_a_character_xml_cannot_carry_is_dropped_and_the_document_parses(char):
    data = {"description": f"before{char}after", "address": char * 3, "status_notes": char}
    document = formats.to_xml("service_requests", [data])
    parsed = ET.fromstring(document)
    assert parsed.findtext("request/description") == "beforeafter"
    assert parsed.findtext("request/address") == ""
    assert xml_text(f"a{char}b") == "ab"


def test_what_xml_allows_is_kept_as_it_is():
    allowed = "\t\n Привет, dunyo! \x7f\x85\u00a0\ud7ff\ue000\ufffd\U0001f600\U0010ffff"
    assert xml_text(allowed) == allowed
    parsed = ET.fromstring(formats.to_xml("errors", [{"code": 400, "description": allowed}]))
    assert parsed.findtext("error/description") == allowed
    # A carriage return is written and kept; parsers read it as a line feed (XML 1.0, 2.11).
    assert xml_text("a\r\nb") == "a\r\nb"


def test_every_xml_writer_goes_through_the_one_filter():
    """The only module that builds XML is formats, and its text goes through xml_text."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    writers = [
        path.relative_to(root).as_posix()
        for package in ("housing", "sensors", "billing")
        for path in (root / package).rglob("*.py")
        if "ElementTree" in path.read_text() or "lxml" in path.read_text() or "minidom" in path.read_text()
    ]
    assert writers == ["housing/open311/formats.py"]
    assert "xml_text(" in (root / "housing/open311/formats.py").read_text()
