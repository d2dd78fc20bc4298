"""Meters, readings, sensors, alerts and the meter import through the API, as each role sees them."""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from sensors.models import Alert, Meter, Reading, RejectedMessage, Sensor
from sensors.usage.bulk import period_consumption
from tests.api.conftest import City
from tests.factories.sensors import add_reading, make_meter

API = "/api/v1"


@dataclass
class Meters:
    home: Meter  # the resident's own, read by hand
    home_smart: Meter  # the resident's own, reports over MQTT
    neighbour: Meter
    common_a: Meter  # building A's whole-building meter
    far_away: Meter  # in company B's building


@pytest.fixture
def meters(session: Session, city: City) -> Meters:
    made = Meters(
        home=make_meter(session, city.home, serial="HOME-CW", smart=False, verification_due=date(2030, 1, 1)),
        home_smart=make_meter(session, city.home, serial="HOME-EL", kind="electricity"),
        neighbour=make_meter(session, city.neighbour, serial="NB-CW", smart=False),
        common_a=make_meter(session, building=city.building_a, serial="A-HEAT", kind="heat"),
        far_away=make_meter(session, city.far_away, serial="FAR-CW", smart=False),
    )
    session.commit()
    return made


@pytest.fixture
def freeze(frozen_clock):
    """Sets the one clock (tests/conftest.py's frozen_clock): freeze(datetime(..., tzinfo=UTC))."""
    return frozen_clock.set


def ids(response) -> set[int]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


# Registering meters and sensors


def test_a_manager_registers_a_meter_in_their_building(client, city: City):
    body = {
        "serial": "CW-0001",
        "kind": "cold_water",
        "apartment_id": city.home.id,
        "installed_on": "2025-03-01",
        "verification_due": "2031-03-01",
        "smart": False,
        "initial_value": "12.5",
    }

    created = client.post(f"{API}/meters", json=body, headers=city.headers["manager"])

    assert created.status_code == 201, created.text
    meter = created.json()
    assert meter["building_id"] == city.building_a.id
    assert (meter["unit"], meter["verification_due"], meter["initial_value"]) == (
        "m3",
        "2031-03-01",
        "12.500",
    )
    assert meter["chain"] == [meter["id"]]
    read = client.get(f"{API}/meters/{meter['id']}", headers=city.headers["resident"])
    assert read.status_code == 200
    assert read.json()["verification_due"] == "2031-03-01"
    again = client.post(f"{API}/meters", json=body, headers=city.headers["manager"])
    assert again.status_code == 409
    assert again.json()["detail"] == "serial 'CW-0001' is already registered"


@pytest.mark.parametrize(
    ("who", "placement", "status", "detail"),
    [
        ("manager", {"building_id": "building_b"}, 422, "building {building_b} does not exist"),
        ("manager", {"apartment_id": "far_away"}, 422, "apartment {far_away} does not exist"),
        ("official", {"building_id": "building_a"}, 403, "a official may not do this"),
        ("resident", {"apartment_id": "home"}, 403, "a resident may not do this"),
    ],
)
def test_registration_is_refused_outside_scope_and_to_other_roles(
    client, city: City, who, placement, status, detail
):
    names = {k: getattr(city, k).id for k in ("building_a", "building_b", "home", "far_away")}
    body = {"serial": "CW-0002", "kind": "gas", "installed_on": "2025-03-01"}
    body |= {field: names[name] for field, name in placement.items()}

    response = client.post(f"{API}/meters", json=body, headers=city.headers[who])

    assert response.status_code == status, response.text
    assert response.json()["detail"] == detail.format(**names)
    assert client.get(f"{API}/meters", headers=city.headers["admin"]).json()["total"] == 0  # none made


def test_each_role_lists_the_meters_in_its_scope(client, city: City, meters: Meters):
    def listed(who: str, **params) -> set[int]:
        return ids(client.get(f"{API}/meters", params=params, headers=city.headers[who]))

    assert listed("resident") == {meters.home.id, meters.home_smart.id}
    assert listed("manager") == {
        meters.home.id,
        meters.home_smart.id,
        meters.neighbour.id,
        meters.common_a.id,
    }
    assert listed("manager_b") == {meters.far_away.id}
    assert len(listed("official")) == 5
    assert listed("manager", kind="heat") == {meters.common_a.id}
    assert listed("manager", apartment_id=city.home.id) == {meters.home.id, meters.home_smart.id}
    assert listed("admin", verification_due_before="2031-01-01") == {meters.home.id}
    for who, meter in (
        ("resident", meters.neighbour),
        ("resident", meters.common_a),
        ("manager_b", meters.home),
    ):
        response = client.get(f"{API}/meters/{meter.id}", headers=city.headers[who])
        assert response.status_code == 404, (who, meter.serial)
        assert response.json()["detail"] == f"meter {meter.id} not found"


def test_sensors_are_registered_and_listed_within_scope(client, city: City):
    created = client.post(
        f"{API}/sensors",
        json={"serial": "T-RISER-1", "kind": "hot_water_temperature", "building_id": city.building_a.id,
              "installed_on": "2025-01-10"},
        headers=city.headers["technician"],
    )  # fmt: skip
    assert created.status_code == 201, created.text
    refused = client.post(
        f"{API}/sensors",
        json={"serial": "T-B-1", "kind": "indoor_temperature", "apartment_id": city.far_away.id,
              "installed_on": "2025-01-10"},
        headers=city.headers["manager"],
    )  # fmt: skip
    assert refused.status_code == 422

    assert ids(client.get(f"{API}/sensors", headers=city.headers["manager"])) == {created.json()["id"]}
    assert ids(client.get(f"{API}/sensors", headers=city.headers["manager_b"])) == set()
    assert (
        client.get(f"{API}/sensors/{created.json()['id']}", headers=city.headers["manager_b"]).status_code
        == 404
    )


# Replacement


def test_replacing_a_meter_closes_it_and_starts_a_new_series(client, session, city: City, meters: Meters):
    add_reading(session, meters.home, datetime(2026, 9, 20, 6, tzinfo=UTC), "130.250", source="manual")
    session.commit()
    url = f"{API}/meters/{meters.home.id}/replace"
    body = {"removed_on": "2026-10-02", "final_value": "131", "serial": "HOME-CW-2", "initial_value": "0.5"}

    too_low = client.post(url, json=body | {"final_value": "130"}, headers=city.headers["manager"])
    assert too_low.status_code == 422
    assert too_low.json()["detail"] == "final_value 130.000 m3 is below the latest reading, 130.250 m3"
    response = client.post(url, json=body, headers=city.headers["manager"])

    assert response.status_code == 201, response.text
    old, new = response.json()["old"], response.json()["new"]
    assert (old["removed_on"], old["final_value"], old["replaced_by_id"]) == (
        "2026-10-02",
        "131.000",
        new["id"],
    )
    assert (new["serial"], new["apartment_id"], new["installed_on"], new["smart"]) == (
        "HOME-CW-2", city.home.id, "2026-10-02", False,
    )  # fmt: skip
    assert new["replaces_id"] == meters.home.id
    assert old["chain"] == new["chain"] == [meters.home.id, new["id"]]
    assert (
        client.get(f"{API}/meters/{new['id']}/readings", headers=city.headers["resident"]).json()["total"]
        == 0
    )
    listed = client.get(
        f"{API}/meters", params={"apartment_id": city.home.id}, headers=city.headers["resident"]
    )
    assert {m["id"]: m["replaces_id"] for m in listed.json()["items"]}[new["id"]] == meters.home.id

    again = client.post(url, json=body | {"serial": "HOME-CW-3"}, headers=city.headers["manager"])
    assert again.status_code == 409
    assert (
        again.json()["detail"]
        == f"meter {meters.home.id} was already removed on 2026-10-02, replaced by meter {new['id']}"
    )
    foreign = client.post(
        f"{API}/meters/{meters.far_away.id}/replace",
        json=body | {"serial": "X-9"},
        headers=city.headers["manager"],
    )
    assert foreign.status_code == 404


# Residents' readings


def test_a_resident_submits_a_reading_inside_the_window(client, city: City, meters: Meters, freeze):
    freeze(datetime(2026, 10, 20, 7, 30, tzinfo=UTC))

    response = client.post(
        f"{API}/meters/{meters.home.id}/readings", json={"value": "140.125"}, headers=city.headers["resident"]
    )

    assert response.status_code == 201, response.text
    reading = response.json()
    assert (reading["taken_at"], reading["source"], reading["effective_value"]) == (
        "2026-10-20T07:30:00Z", "manual", "140.125",
    )  # fmt: skip
    assert (reading["backwards"], reading["counts"], reading["correction"]) == (False, True, None)
    listed = client.get(f"{API}/meters/{meters.home.id}/readings", headers=city.headers["manager"]).json()
    assert [r["value"] for r in listed["items"]] == ["140.125"]

    twice = client.post(
        f"{API}/meters/{meters.home.id}/readings", json={"value": "141"}, headers=city.headers["resident"]
    )
    assert twice.status_code == 409
    assert "already submitted today (2026-10-20)" in twice.json()["detail"]
    again = client.get(f"{API}/meters/{meters.home.id}/readings", headers=city.headers["manager"]).json()
    assert [r["value"] for r in again["items"]] == ["140.125"]  # the first one stands


def test_a_reading_outside_the_window_is_refused_with_the_window_named(
    client, city: City, meters: Meters, freeze
):
    # 20:00 UTC on 25 October is 01:00 on the 26th in Tashkent: the window has closed.
    freeze(datetime(2026, 10, 25, 20, 0, tzinfo=UTC))

    response = client.post(
        f"{API}/meters/{meters.home.id}/readings", json={"value": "140"}, headers=city.headers["resident"]
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == (
        "readings are accepted from day 15 to day 25 of each month; "
        "today is 2026-10-26 (Asia/Tashkent), so please submit it then"
    )


def test_the_window_comes_from_the_settings(client, app, city: City, meters: Meters, freeze):
    freeze(datetime(2026, 10, 20, 7, 30, tzinfo=UTC))
    app.state.settings.meters.window_start_day, app.state.settings.meters.window_end_day = 1, 10

    response = client.post(
        f"{API}/meters/{meters.home.id}/readings", json={"value": "140"}, headers=city.headers["resident"]
    )

    assert response.status_code == 422
    assert response.json()["detail"].startswith("readings are accepted from day 1 to day 10 of each month")
    listed = client.get(f"{API}/meters/{meters.home.id}/readings", headers=city.headers["manager"]).json()
    assert listed["items"] == []  # nothing stored


def test_a_resident_reading_may_not_go_backwards(client, session, city: City, meters: Meters, freeze):
    add_reading(session, meters.home, datetime(2026, 9, 20, 6, tzinfo=UTC), "150", source="manual")
    session.commit()
    freeze(datetime(2026, 10, 20, 7, 30, tzinfo=UTC))

    response = client.post(
        f"{API}/meters/{meters.home.id}/readings", json={"value": "149.9"}, headers=city.headers["resident"]
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "149.900 m3 is lower than the latest reading, 150.000 m3; "
        "a meter does not go backwards: check the digits you read"
    )
    assert session.exec(select(func.count()).select_from(Reading)).one() == 1


@pytest.mark.parametrize(
    ("who", "meter", "status"),
    [
        ("resident", "neighbour", 404),
        ("resident", "common_a", 404),
        ("resident", "far_away", 404),
        ("resident", "home_smart", 403),
        ("official", "home", 403),
        ("manager_b", "home", 404),
    ],
)
def test_readings_of_meters_not_ones_own_are_refused(
    client, session, city: City, meters: Meters, freeze, who, meter, status
):
    freeze(datetime(2026, 10, 20, 7, 30, tzinfo=UTC))

    response = client.post(
        f"{API}/meters/{getattr(meters, meter).id}/readings",
        json={"value": "1000"},
        headers=city.headers[who],
    )

    assert response.status_code == status, response.text
    assert session.exec(select(func.count()).select_from(Reading)).one() == 0  # nothing stored


def test_staff_enter_a_reading_outside_the_window(client, city: City, meters: Meters, freeze):
    freeze(datetime(2026, 10, 3, 7, 30, tzinfo=UTC))

    response = client.post(
        f"{API}/meters/{meters.common_a.id}/readings",
        json={"value": "812.4"},
        headers=city.headers["technician"],
    )

    assert response.status_code == 201, response.text


# Corrections and reviews


def test_a_correction_supersedes_the_value_and_keeps_the_reading(client, session, city: City, meters: Meters):
    add_reading(session, meters.home, datetime(2026, 9, 20, 6, tzinfo=UTC), "120", source="manual")
    add_reading(session, meters.home, datetime(2026, 10, 20, 6, tzinfo=UTC), "1325", source="manual")
    session.commit()
    url = f"{API}/meters/{meters.home.id}/readings/2026-10-20T06:00:00Z/corrections"
    body = {"value": "132.5", "reason": "resident missed the decimal point"}

    assert client.post(url, json=body, headers=city.headers["resident"]).status_code == 403
    assert client.post(url, json={"value": "132.5"}, headers=city.headers["manager"]).status_code == 422
    response = client.post(url, json=body, headers=city.headers["manager"])

    assert response.status_code == 201, response.text
    readings = client.get(f"{API}/meters/{meters.home.id}/readings", headers=city.headers["resident"]).json()
    newest = readings["items"][0]
    assert (newest["value"], newest["effective_value"]) == ("1325.000", "132.500")
    assert newest["correction"]["reason"] == "resident missed the decimal point"
    session.expire_all()
    stored = session.get(Reading, (meters.home.id, datetime(2026, 10, 20, 6, tzinfo=UTC)))
    assert stored.value == 1325
    missing = client.post(
        f"{API}/meters/{meters.home.id}/readings/2026-10-21T06:00:00Z/corrections",
        json=body,
        headers=city.headers["manager"],
    )
    assert missing.status_code == 404


def test_a_backwards_reading_is_flagged_and_counts_once_confirmed_as_rollover(
    client, session, city: City, meters: Meters
):
    meter = meters.home_smart
    for hour, value in ((0, "99990"), (1, "99995"), (2, "3"), (3, "7")):
        add_reading(session, meter, datetime(2026, 10, 1, hour, tzinfo=UTC), value)
    session.commit()
    headers = city.headers["manager"]

    def flags() -> list[tuple[str, bool, bool]]:
        items = client.get(f"{API}/meters/{meter.id}/readings", params={"limit": 2}, headers=headers).json()[
            "items"
        ]
        return [(r["value"], r["backwards"], r["counts"]) for r in items]

    assert flags() == [("7.000", True, False), ("3.000", True, False)]  # newest first, the first page

    review = f"{API}/meters/{meter.id}/readings/2026-10-01T02:00:00Z/review"
    assert (
        client.post(review, json={"verdict": "rollover"}, headers=city.headers["official"]).status_code == 403
    )
    response = client.post(review, json={"verdict": "rollover", "reason": "5 digits"}, headers=headers)

    assert response.status_code == 201, response.text
    assert flags() == [("7.000", False, True), ("3.000", True, True)]
    again = client.post(review, json={"verdict": "error"}, headers=headers)
    assert again.status_code == 409
    assert "already reviewed (rollover)" in again.json()["detail"]
    fine = client.post(
        f"{API}/meters/{meter.id}/readings/2026-10-01T01:00:00Z/review",
        json={"verdict": "rollover"},
        headers=headers,
    )
    assert fine.status_code == 409
    assert "did not go backwards" in fine.json()["detail"]


# Alerts and rejected messages


def test_alerts_are_listed_within_scope_open_by_default(client, session, city: City, meters: Meters):
    opened = datetime(2026, 10, 1, tzinfo=UTC)
    alerts = [
        Alert(meter_id=meters.home.id, kind="leak", opened_at=opened, detail="flow all night"),
        Alert(meter_id=meters.common_a.id, kind="stale", opened_at=opened),
        Alert(meter_id=meters.far_away.id, kind="backwards", opened_at=opened),
        Alert(meter_id=meters.neighbour.id, kind="stale", opened_at=opened, closed_at=opened),
    ]
    session.add_all(alerts)
    session.commit()

    def listed(who: str, **params) -> set[int]:
        return ids(client.get(f"{API}/alerts", params=params, headers=city.headers[who]))

    assert listed("manager") == {alerts[0].id, alerts[1].id}
    assert listed("manager_b") == {alerts[2].id}
    assert listed("official") == {alerts[0].id, alerts[1].id, alerts[2].id}
    assert listed("dispatcher", state="all") == {alerts[0].id, alerts[1].id, alerts[3].id}
    assert listed("admin", kind="stale") == {alerts[1].id}
    assert listed("admin", building_id=city.building_b.id) == {alerts[2].id}
    leak = client.get(f"{API}/alerts", params={"kind": "leak"}, headers=city.headers["manager"]).json()[
        "items"
    ][0]
    assert (leak["serial"], leak["apartment_id"], leak["detail"]) == (
        "HOME-CW",
        city.home.id,
        "flow all night",
    )
    assert client.get(f"{API}/alerts", headers=city.headers["resident"]).status_code == 403


def test_rejected_messages_are_for_admins(client, session, city: City):
    session.add(
        RejectedMessage(
            topic="housing/v1/meters/NOPE/readings",
            payload=b'{"ts": 1}\xff',
            reason="unknown_serial: no meter NOPE",
            received_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
    )
    session.commit()

    response = client.get(f"{API}/rejected-messages", headers=city.headers["admin"])

    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert (item["topic"], item["payload"]) == ("housing/v1/meters/NOPE/readings", '{"ts": 1}\ufffd')
    assert client.get(f"{API}/rejected-messages", headers=city.headers["manager"]).status_code == 403


# CSV import


def upload(client, headers: dict[str, str], text: str):
    return client.post(
        f"{API}/imports/meters", headers=headers, files={"file": ("meters.csv", text.encode(), "text/csv")}
    )


def counts(session: Session) -> tuple[int, int]:
    return (
        session.exec(select(func.count()).select_from(Meter)).one(),
        session.exec(select(func.count()).select_from(Sensor)).one(),
    )


def test_a_meter_file_is_imported_whole(client, session, city: City):
    address = city.building_a.address
    text = (
        "serial,kind,address,apartment,installed_on,verification_due,initial_value,smart,digits\n"
        f"IM-1,cold_water,{address},1,2025-01-10,2031-01-10,12.5,no,5\n"
        f"IM-2,hot_water,{address},1,2025-01-10,,,no,\n"
        f"IM-3,heat,{address},,2025-01-10,2029-01-10,,yes,\n"
        f"IT-1,indoor_temperature,{address},2,2025-01-10,,,,\n"
    )

    response = upload(client, city.headers["manager"], text)

    assert response.status_code == 201, response.text
    assert response.json() == {"meters": 3, "sensors": 1}
    first = session.exec(select(Meter).where(Meter.serial == "IM-1")).one()
    assert (first.apartment_id, first.smart, first.digits, first.initial_value) == (
        city.home.id,
        False,
        5,
        12.5,
    )
    common = session.exec(select(Meter).where(Meter.serial == "IM-3")).one()
    assert (common.building_id, common.apartment_id) == (city.building_a.id, None)


def test_a_meter_file_with_bad_rows_imports_nothing_and_names_each_line(client, session, city: City):
    text = (
        "serial,kind,building_id,apartment,installed_on,verification_due,initial_value\n"
        f"OK-1,cold_water,{city.building_a.id},1,2025-01-10,,\n"
        f"BAD-2,steam,{city.building_a.id},1,2025-01-10,,\n"  # line 3: unknown kind
        f"BAD-3,gas,{city.building_b.id},1,2025-01-10,,\n"  # line 4: company B's building
        f"BAD-4,gas,{city.building_a.id},77,2025-01-10,,\n"  # line 5: no such apartment
        f"OK-1,gas,{city.building_a.id},2,2025-01-10,,\n"  # line 6: serial repeated
        f"BAD-6,gas,{city.building_a.id},2,2025-01-10,2024-01-01,\n"  # line 7: verified before installed
        f"BAD-7,gas,{city.building_a.id},2,2025-01-10,,-1\n"  # line 8: a negative register
    )

    response = upload(client, city.headers["manager"], text)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"] == "6 rows are wrong; nothing was imported"
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (3, "kind"),
        (4, "building_id"),
        (5, "apartment"),
        (6, "serial"),
        (7, "verification_due"),
        (8, "initial_value"),
    ]
    assert problem["errors"][1]["reason"] == f"building {city.building_b.id} does not exist"
    assert problem["errors"][3]["reason"] == "'OK-1' is also the serial at line 2"
    assert counts(session) == (0, 0)


def test_the_meter_import_is_for_staff(client, city: City):
    text = f"serial,kind,building_id,installed_on\nX-1,gas,{city.building_a.id},2025-01-10\n"

    assert upload(client, city.headers["resident"], text).status_code == 403
    assert upload(client, city.headers["official"], text).status_code == 403


# Staff readings: dated, with a reason, source "staff"

STAFF = f"{API}/meters/{{}}/staff-readings"
TASHKENT = ZoneInfo("Asia/Tashkent")


def enter(client, city: City, meter: Meter, taken_at: str, value: str, who: str = "technician", **extra):
    body = {"taken_at": taken_at, "value": value, "reason": "paper reading by the technician"} | extra
    return client.post(STAFF.format(meter.id), json=body, headers=city.headers[who])


def test_staff_enter_a_dated_reading_with_a_reason(client, session, city: City, meters: Meters, freeze):
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))

    response = enter(client, city, meters.home, "2026-10-31T18:00:00+05:00", "140.5")

    assert response.status_code == 201, response.text
    reading = response.json()
    assert (reading["taken_at"], reading["source"], reading["value"]) == (
        "2026-10-31T13:00:00Z",
        "staff",
        "140.500",
    )
    assert reading["received_at"] == "2026-11-03T09:00:00Z"
    assert reading["entry"]["reason"] == "paper reading by the technician"
    assert reading["entry"]["user_id"] == city.users["technician"]
    assert (reading["backwards"], reading["counts"]) == (False, True)
    listed = client.get(f"{API}/meters/{meters.home.id}/readings", headers=city.headers["resident"]).json()
    assert [(r["source"], r["entry"]["reason"]) for r in listed["items"]] == [
        ("staff", "paper reading by the technician")
    ]
    stored = session.get(Reading, (meters.home.id, datetime(2026, 10, 31, 13, tzinfo=UTC)))
    assert stored.source == "staff"


@pytest.mark.parametrize(
    ("who", "meter", "status"),
    [
        ("manager", "home", 201),
        ("dispatcher", "common_a", 201),
        ("admin", "far_away", 201),
        ("manager_b", "far_away", 201),
        ("manager_b", "home", 404),  # another company's meter: as if it did not exist
        ("technician", "far_away", 404),
        ("resident", "home", 403),  # residents submit today's reading in the window, not dated ones
        ("resident", "neighbour", 403),
        ("official", "home", 403),
    ],
)
def test_staff_readings_are_for_staff_within_their_scope(
    client, session, city: City, meters: Meters, freeze, who, meter, status
):
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))

    response = enter(client, city, getattr(meters, meter), "2026-10-31T18:00:00+05:00", "812.4", who=who)

    assert response.status_code == status, response.text
    stored = session.exec(select(func.count()).select_from(Reading)).one()
    assert stored == (1 if status == 201 else 0)


@pytest.mark.parametrize(
    ("taken_at", "field", "says"),
    [
        ("2026-11-03T09:00:00.000001Z", "taken_at", "in the future"),  # a microsecond after now
        ("2026-11-03T14:00:01+05:00", "taken_at", "in the future"),
        ("9999-12-31T23:59:59Z", "taken_at", "the year must be from 2000 to 2100"),
        ("9999-12-31T23:59:59-05:00", "taken_at", "the year must be from 2000 to 2100"),
        ("0001-01-01T00:00:00+05:00", "taken_at", "the year must be from 2000 to 2100"),
        ("0001-01-01T00:00:00Z", "taken_at", "the year must be from 2000 to 2100"),
        ("2023-12-31T23:59:59+05:00", "taken_at", "before meter"),  # installed 2024-01-01, Tashkent
        ("2026-10-31T18:00:00", "taken_at", "timezone"),  # no zone: which 18:00?
        ("yesterday", "taken_at", ""),
    ],
)
def test_a_staff_reading_must_be_dated_between_installation_and_now(
    client, session, city: City, meters: Meters, freeze, taken_at, field, says
):
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))

    response = enter(client, city, meters.home, taken_at, "140")

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"].endswith(field) and says in problem["detail"]
    assert session.exec(select(func.count()).select_from(Reading)).one() == 0


def test_the_boundaries_of_a_staff_reading_are_accepted(client, city: City, meters: Meters, freeze):
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))

    at_installation = enter(client, city, meters.home, "2024-01-01T00:00:00+05:00", "0")
    now = enter(client, city, meters.home, "2026-11-03T14:00:00+05:00", "141")

    assert (at_installation.status_code, now.status_code) == (201, 201), now.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "  x  "}, "reason"),
        ({"reason": "paper\x00reading"}, "reason"),
        ({"reason": "paper\x1b[2Jreading"}, "reason"),
        ({"reason": "r" * 501}, "reason"),
        ({"value": "-1"}, "value"),
        ({"value": "1e20"}, "value"),
        ({"value": "1.0001"}, "value"),
        ({"value": True}, "value"),
    ],
)
def test_a_staff_reading_needs_a_reason_and_a_register_value(
    client, session, city: City, meters: Meters, freeze, body, field
):
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))

    sent = {"taken_at": "2026-10-31T18:00:00+05:00", "value": "140", "reason": "paper reading"} | body
    response = client.post(STAFF.format(meters.home.id), json=sent, headers=city.headers["technician"])

    assert response.status_code == 422, response.text
    assert response.json()["field"].endswith(field)
    assert session.exec(select(func.count()).select_from(Reading)).one() == 0


def test_a_removed_meter_takes_staff_readings_up_to_its_removal_day(
    client, session, city: City, meters: Meters, freeze
):
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    replaced = client.post(
        f"{API}/meters/{meters.home.id}/replace",
        json={"removed_on": "2026-10-20", "final_value": "150", "serial": "HOME-CW-2"},
        headers=city.headers["manager"],
    )
    assert replaced.status_code == 201, replaced.text

    last_day = enter(client, city, meters.home, "2026-10-20T23:59:59+05:00", "149")
    after = enter(client, city, meters.home, "2026-10-21T00:00:00+05:00", "150")

    assert last_day.status_code == 201, last_day.text
    assert after.status_code == 422 and "enter the reading on its successor" in after.json()["detail"]


def test_a_second_reading_at_the_same_moment_is_refused(client, session, city: City, meters: Meters, freeze):
    add_reading(session, meters.home_smart, datetime(2026, 10, 31, 13, tzinfo=UTC), "500")
    session.commit()
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))

    over_a_device = enter(client, city, meters.home_smart, "2026-10-31T18:00:00+05:00", "501")
    first = enter(client, city, meters.home, "2026-10-31T18:00:00+05:00", "140")
    again = enter(client, city, meters.home, "2026-10-31T13:00:00Z", "140")  # the same instant, in UTC
    a_microsecond_later = enter(client, city, meters.home, "2026-10-31T13:00:00.000001Z", "140")

    assert over_a_device.status_code == 409
    assert over_a_device.json()["detail"] == (
        "meter HOME-EL already has a reading taken at 2026-10-31T18:00:00+05:00 (mqtt, 500.000 kWh);"
        " correct that reading instead"
    )
    assert first.status_code == 201 and again.status_code == 409
    assert a_microsecond_later.status_code == 201
    stored = session.get(Reading, (meters.home_smart.id, datetime(2026, 10, 31, 13, tzinfo=UTC)))
    session.refresh(stored)
    assert (stored.value, stored.source) == (500, "mqtt")  # untouched


def test_a_backwards_staff_reading_is_stored_flagged_and_left_out(
    client, session, city: City, meters: Meters, freeze
):
    meter = meters.home_smart
    for day, value in ((1, "1000"), (20, "1100")):
        add_reading(session, meter, datetime(2026, 10, day, tzinfo=UTC), value)
    session.commit()
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))

    below = enter(client, city, meter, "2026-10-25T00:00:00Z", "1099")  # after 1100: backwards
    above = enter(client, city, meter, "2026-10-10T00:00:00Z", "1200")  # makes the 20th's 1100 backwards

    assert below.status_code == 201 and (below.json()["backwards"], below.json()["counts"]) == (True, False)
    assert above.status_code == 201 and (above.json()["backwards"], above.json()["counts"]) == (False, True)
    listed = client.get(f"{API}/meters/{meter.id}/readings", headers=city.headers["manager"]).json()["items"]
    assert [(r["value"], r["source"], r["backwards"]) for r in listed] == [
        ("1099.000", "staff", True),
        ("1100.000", "mqtt", True),  # flagged now, until staff correct or review one of them
        ("1200.000", "staff", False),
        ("1000.000", "mqtt", False),
    ]


def test_consumption_counts_a_staff_reading_like_one_the_meter_sent(
    client, session, city: City, meters: Meters, freeze
):
    """A smart meter silent from the 10th; the technician's paper reading at the month's end closes October."""
    meter = meters.home_smart
    october = (datetime(2026, 10, 1, tzinfo=TASHKENT), datetime(2026, 11, 1, tzinfo=TASHKENT))
    add_reading(session, meter, october[0], "1000")
    add_reading(session, meter, datetime(2026, 10, 10, tzinfo=TASHKENT), "1100")
    session.commit()
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    period = {"start": "2026-10-01T00:00:00+05:00", "end": "2026-11-01T00:00:00+05:00"}

    entered = enter(client, city, meter, "2026-11-01T00:00:00+05:00", "1400", who="manager")
    assert entered.status_code == 201, entered.text
    consumption = client.get(
        f"{API}/meters/{meter.id}/consumption", params=period, headers=city.headers["resident"]
    )

    assert consumption.status_code == 200, consumption.text
    assert Decimal(consumption.json()["quantity"]) == Decimal(400)
    assert consumption.json()["end_value"]["value"] == "1400.000"
    session.expire_all()
    (bulk,) = period_consumption(session, [meter.id], *october).values()  # the billing run's path
    assert bulk.quantity == Decimal(400)


def test_staff_readings_at_once_store_one(client, session, city: City, meters: Meters, freeze):
    """Two entries of the same paper reading racing: one is stored, the other answered 409, never 500."""
    freeze(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    barrier = threading.Barrier(2)

    def post():
        barrier.wait()
        return enter(client, city, meters.home, "2026-10-31T18:00:00+05:00", "140")

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(f.result().status_code for f in [pool.submit(post), pool.submit(post)])

    assert answers == [201, 409]
    assert session.exec(select(func.count()).select_from(Reading)).one() == 1
