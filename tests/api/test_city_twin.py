"""The officials' twin pages and their JSON twins: buildings by grade and district, the week's
changes of grade, and "cold now". Only officials and admins; the CSVs hold what the pages show."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from housing import clock, dashboard
from housing.i18n import LANGUAGE_COOKIE
from housing.incidents.models import Utility
from housing.settings import Settings
from housing.twin import city_pages, service
from housing.twin.models import GradeChange
from tests.conftest import make_settings
from tests.factories.core import PASSWORD, make_apartment, make_building, make_district
from tests.factories.scores import add_incident
from tests.factories.sensors import make_meter
from tests.pages import log_in

PAGES = ["/city/grades", "/city/grades.csv", "/city/grade-changes.csv", "/city/cold"]
API = ["/api/v1/city/grades", "/api/v1/city/cold-now"]


def rows(html: str, attribute: str) -> dict[str, str]:
    found = re.findall(rf'<tr data-{attribute}="([^"]+)"[^>]*>(.*?)</tr>', html, re.S)
    return dict(found)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.text)))


def grade(session: Session, settings: Settings, day: date, *buildings) -> None:
    now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23)
    service.grade_buildings(
        session, day=day, now=min(now, clock.now()), settings=settings, building_ids=[b.id for b in buildings]
    )
    session.commit()


@pytest.fixture
def graded(session, city, database_url):
    """Building A green (both flats metered) ten days ago, red two days ago (a meter removed:
    half its flats covered); B red from the first day (no meter); C, in another district and
    managed by company A, never graded. No money report is due (from 2030)."""
    settings = make_settings(database_url, money={"reports_from": "2030-Q1"})
    today = clock.local_today(settings.timezone)
    other = make_district(session, name="Chilonzor")
    c = make_building(session, city.company_a, district_id=other.id, address="Bunyodkor 7")
    make_apartment(session, c)
    meters = [make_meter(session, home) for home in (city.home, city.neighbour)]
    session.commit()
    # A: fully metered, green on the first day; B: no meter, red.
    grade(session, settings, today - timedelta(days=10), city.building_a, city.building_b)
    # A week ago A lost a meter's coverage (half its flats): red; B unchanged.
    meters[1].removed_on = today - timedelta(days=3)
    session.add(meters[1])
    session.commit()
    grade(session, settings, today - timedelta(days=2), city.building_a, city.building_b)
    return {"today": today, "c": c, "district_c": other}


@pytest.fixture
def official(client, city):
    assert log_in(client, "official", PASSWORD).status_code == 200
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return client


@pytest.mark.parametrize("username", ["resident", "manager", "dispatcher", "technician"])
def test_only_officials_and_admins_see_the_twins_city_pages(client, city, username):
    log_in(client, username, PASSWORD)
    for path in PAGES:
        assert client.get(path, headers={"accept": "text/html"}).status_code == 403, path
    for path in API:
        answer = client.get(path, headers=city.headers[username])
        assert answer.status_code == 403, path
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_visitor_is_asked_to_log_in(client, db):
    for path in [*PAGES, *API]:
        assert client.get(path).status_code == 401, path


@pytest.mark.parametrize("username", ["official", "admin"])
def test_officials_and_admins_open_them(client, city, username):
    log_in(client, username, PASSWORD)
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    for path in API:
        assert client.get(path, headers=city.headers[username]).status_code == 200, path
    assert 'href="/city/grades"' in client.get("/city/scores").text  # in the city navigation


def test_counts_by_district_link_to_the_maps_list_and_the_weeks_changes_to_the_building(
    official, city, graded
):
    page = official.get("/city/grades")
    assert page.status_code == 200
    districts = rows(page.text, "district")
    a_district = str(city.building_a.district_id)
    counts = {
        g: re.search(rf'data-grade="{g}"><a href="([^"]+)">(\d+)</a>', districts[a_district])
        for g in ("green", "yellow", "red")
    }
    assert {g: int(m[2]) for g, m in counts.items()} == {"green": 0, "yellow": 0, "red": 2}
    assert counts["red"][1] == f"/map/list?district_id={a_district}&amp;layer=grade"
    c_row = text(districts[str(graded["district_c"].id)])
    assert "Chilonzor" in c_row and c_row.endswith("0 0 0 1 1")  # not graded yet
    assert text(districts["city"]).endswith("0 0 2 1 3")
    assert 'href="/map/list?layer=grade"' in districts["city"]

    changes = re.findall(r'<tr data-building="(\d+)">(.*?)</tr>', page.text, re.S)
    a = city.building_a.id
    assert [int(b) for b, _ in changes] == [a]  # B's first grade was 10 days ago
    assert f'href="/buildings/{a}"' in changes[0][1]
    assert "green" in text(changes[0][1]) and "red" in text(changes[0][1])

    exported = csv_rows(official.get("/city/grades.csv"))
    assert exported[-1] == {
        "district_id": "",
        "district": "all districts",
        "green": "0",
        "yellow": "0",
        "red": "2",
        "ungraded": "1",
        "total": "3",
    }
    week = csv_rows(official.get("/city/grade-changes.csv"))
    assert [(int(r["building_id"]), r["previous"], r["grade"]) for r in week] == [(a, "green", "red")]
    assert week[0]["changed_on"] == (graded["today"] - timedelta(days=2)).isoformat()


def test_the_company_filter_counts_only_its_buildings(official, city, graded):
    b = city.company_b.id
    page = official.get(f"/city/grades?company_id={b}")
    districts = rows(page.text, "district")
    assert set(districts) == {str(city.building_b.district_id), "city"}
    assert f"&amp;company_id={b}" in districts["city"]
    assert text(districts["city"]).endswith("0 0 1 0 1")
    assert 'data-building="' not in page.text  # B did not change in the week
    assert csv_rows(official.get(f"/city/grade-changes.csv?company_id={b}")) == []
    by_a = csv_rows(official.get(f"/city/grades.csv?company_id={city.company_a.id}"))
    assert [(r["district"], r["total"]) for r in by_a] == [
        ("Chilonzor", "1"),
        ("Yunusobod", "1"),
        ("all districts", "2"),
    ]


@pytest.mark.parametrize(
    ("value", "status"),
    [("999999", 404), ("abc", 422), ("-1", 422), (str(2**31), 422), ("9" * 13, 422), ("1%00", 422)],
)
def test_a_wrong_company_is_a_clear_client_error(official, city, value, status):
    for path in ("/city/grades", "/city/grades.csv", "/city/grade-changes.csv", "/city/cold"):
        assert official.get(f"{path}?company_id={value}").status_code == status, path
    for path in API:
        answer = official.get(f"{path}?company_id={value}", headers=city.headers["official"])
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert official.get("/city/grades?company_id=").status_code == 200  # the form's "all companies"


def test_the_api_gives_the_same_counts_and_changes(official, city, graded):
    body = official.get("/api/v1/city/grades", headers=city.headers["official"]).json()
    assert body["city"] == {
        "district_id": None,
        "district": "",
        "green": 0,
        "yellow": 0,
        "red": 2,
        "ungraded": 1,
        "total": 3,
    }
    assert [(d["district"], d["total"]) for d in body["districts"]] == [("Chilonzor", 1), ("Yunusobod", 2)]
    assert body["changes"]["total"] == 1
    assert [(c["building_id"], c["previous"], c["grade"]) for c in body["changes"]["items"]] == [
        (city.building_a.id, "green", "red")
    ]
    assert body["graded_on"] == (graded["today"] - timedelta(days=2)).isoformat()


@pytest.fixture
def cold(session, city, frozen_clock):
    """In the heating season: building B has one flat cold for 10 hours (2.5 C short), A two
    flats cold for 3 and 2 hours (1.0 and 3.0 C short); a closed one and a building-wide one do not count."""
    now = frozen_clock.set(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    second = make_apartment(session, city.building_b)
    add_incident(
        session,
        city.building_b,
        started=now - timedelta(hours=10),
        ended=None,
        utility=Utility.heating,
        apartment_id=city.far_away.id,
        deviation=Decimal("2.5"),
    )
    add_incident(
        session,
        city.building_a,
        started=now - timedelta(hours=3),
        ended=None,
        utility=Utility.heating,
        apartment_id=city.home.id,
        deviation=Decimal("1.0"),
    )
    add_incident(
        session,
        city.building_a,
        started=now - timedelta(hours=2),
        ended=None,
        utility=Utility.heating,
        apartment_id=city.neighbour.id,
        deviation=Decimal("3.0"),
    )
    add_incident(
        session,
        city.building_b,
        started=now - timedelta(hours=30),
        ended=now - timedelta(hours=20),
        utility=Utility.heating,
        apartment_id=second.id,
    )
    add_incident(
        session, city.building_b, started=now - timedelta(hours=30), ended=None, utility=Utility.hot_water
    )
    session.commit()
    return now


def test_cold_now_lists_the_most_cold_flats_first_with_how_long_and_how_deep(official, city, cold):
    page = official.get("/city/cold")
    listed = rows(page.text, "building")
    assert list(listed) == [str(city.building_a.id), str(city.building_b.id)]
    a, b = text(listed[str(city.building_a.id)]), text(listed[str(city.building_b.id)])
    assert "Yunusobod Servis" in a and " 2 3 h " in f" {a} " and "3 C below" in a
    assert " 1 10 h " in f" {b} " and "2.5 C below" in b
    assert f'href="/buildings/{city.building_a.id}"' in listed[str(city.building_a.id)]
    body = official.get("/api/v1/city/cold-now", headers=city.headers["official"]).json()
    assert body["heating_season"] is True
    assert [
        (x["building_id"], x["flats"], x["hours"], x["deepest_shortfall_c"]) for x in body["buildings"]
    ] == [
        (city.building_a.id, 2, 3.0, "3.00"),
        (city.building_b.id, 1, 10.0, "2.50"),
    ]
    only_b = official.get(
        f"/api/v1/city/cold-now?company_id={city.company_b.id}", headers=city.headers["official"]
    )
    assert [x["building_id"] for x in only_b.json()["buildings"]] == [city.building_b.id]
    assert list(rows(official.get(f"/city/cold?company_id={city.company_b.id}").text, "building")) == [
        str(city.building_b.id)
    ]


def test_out_of_the_heating_season_cold_now_says_so(official, city, cold, frozen_clock):
    frozen_clock.set(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    page = official.get("/city/cold")
    assert "It is not the heating season (10-15..04-15)" in text(page.text)
    assert 'data-building="' not in page.text
    body = official.get("/api/v1/city/cold-now", headers=city.headers["official"]).json()
    assert (body["heating_season"], body["buildings"]) == (False, [])


def test_no_cold_flat_in_the_season_is_said_too(official, city, frozen_clock):
    frozen_clock.set(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert "No flat is cold now." in official.get("/city/cold").text


def test_the_pages_speak_uzbek_and_russian(official, city, graded):
    for language in ("uz", "ru"):
        official.cookies.set(LANGUAGE_COOKIE, language)
        page = official.get("/city/grades")
        assert f'<html lang="{language}">' in page.text
        assert page.status_code == 200


def test_the_weeks_changes_come_in_pages_and_the_csv_in_parts(official, city, session, monkeypatch):
    today = clock.local_today("Asia/Tashkent")
    buildings = [make_building(session, city.company_a, address=f"Navoiy {n}") for n in range(3)]
    for n, building in enumerate(buildings):
        session.add(
            GradeChange(
                building_id=building.id, changed_on=today - timedelta(days=n), previous="green", grade="red"
            )
        )
        session.add(
            GradeChange(
                building_id=building.id, changed_on=today - timedelta(days=9), previous=None, grade="green"
            )
        )
    session.commit()
    monkeypatch.setattr(city_pages, "PAGE_SIZE", 2)
    monkeypatch.setattr(dashboard, "EXPORT_ROWS", 2)

    first = official.get("/city/grades")
    assert [int(b) for b in re.findall(r'<tr data-building="(\d+)">', first.text)] == [
        buildings[0].id,
        buildings[1].id,
    ]
    assert 'href="/city/grades?page=2" rel="next"' in first.text
    second = official.get("/city/grades?page=2")
    assert [int(b) for b in re.findall(r'<tr data-building="(\d+)">', second.text)] == [buildings[2].id]
    part = official.get("/city/grade-changes.csv")
    assert [int(r["building_id"]) for r in csv_rows(part)] == [buildings[0].id, buildings[1].id]
    assert part.headers["link"] == '</city/grade-changes.csv?page=2>; rel="next"'
    assert [int(r["building_id"]) for r in csv_rows(official.get("/city/grade-changes.csv?page=2"))] == [
        buildings[2].id
    ]
    api = official.get("/api/v1/city/grades?limit=1&offset=2", headers=city.headers["official"]).json()[
        "changes"
    ]
    assert (api["total"], [c["building_id"] for c in api["items"]]) == (3, [buildings[2].id])
