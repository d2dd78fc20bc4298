"""The officials' building-money pages and API: cost per m2 compared, late reports, CSV, access.

2026-Q3 (due 30 October), seen on 9 November. Cleaning, UZS per m2: company A's buildings 10,
12 and 14 (A1 also spent 5 on lifts), and one of zero area; company B's 11 and 300 (an
outlier: the city's median is 12, its MAD 2). A1, A2, B2 and the zero-area one published on
time, A3 on 2 November (late), B1 never (late).
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlmodel import Session, select

from housing.building_money import city_pages
from housing.building_money.costs import cost_comparison
from housing.building_money.models import BuildingReport
from housing.building_money.rules import ExpenseCategory, Quarter
from housing.registry.models import Building
from tests.factories.city_money import publish
from tests.factories.core import PASSWORD, make_building, make_district
from tests.pages import log_in

AREA = 1000


@dataclass
class Costs:
    a1: Building
    a2: Building
    a3: Building
    empty: Building
    b1: Building
    b2: Building
    chilonzor: int


def uzs(per_m2: float) -> int:
    """A cleaning line of `per_m2` UZS per m2 on AREA m2, in tiyin."""
    return round(per_m2 * 100 * AREA)


@pytest.fixture
def costs(session: Session, city, frozen_clock) -> Costs:
    frozen_clock.at(date(2026, 11, 9), 12)
    chilonzor = make_district(session, name="Chilonzor")
    a1, b1 = city.building_a, city.building_b
    district = a1.district_id
    a2 = make_building(session, city.company_a, district_id=district, address="Navoiy 2")
    a3 = make_building(session, city.company_a, district_id=district, address="Navoiy 3")
    empty = make_building(session, city.company_a, district_id=district, address="Navoiy 0")
    session.get(Building, b1.id).district_id = chilonzor.id
    b2 = make_building(session, city.company_b, district_id=chilonzor.id, address="Bunyodkor 300")
    session.flush()
    q3 = "2026-Q3"
    publish(session, a1, q3, lines={"cleaning": uzs(10), "lifts": uzs(5)}, area_m2=AREA)
    publish(session, a2, q3, lines={"cleaning": uzs(12)}, area_m2=AREA)
    publish(session, a3, q3, lines={"cleaning": uzs(14)}, area_m2=AREA, on=date(2026, 11, 2))
    publish(session, empty, q3, lines={"cleaning": 500_00}, area_m2=0)
    publish(session, b2, q3, lines={"cleaning": uzs(300)}, area_m2=AREA)
    # B1's report on Q3 never came; its Q2 (before reports_from) lines are not compared with Q3's.
    publish(session, b1, "2026-Q2", lines={"cleaning": uzs(11)}, area_m2=AREA)
    session.commit()
    return Costs(a1, a2, a3, empty, b1, b2, chilonzor.id)


@pytest.fixture
def costs_b1(session: Session, costs) -> Costs:
    """B1's Q3 figure too (11 UZS per m2), published late for the comparison's sake."""
    publish(session, costs.b1, "2026-Q3", lines={"cleaning": uzs(11)}, area_m2=AREA, on=date(2026, 11, 3))
    session.commit()
    return costs


def rows(html: str, attribute: str) -> dict[int, str]:
    found = re.findall(rf'<tr data-{attribute}="(\d+)"[^>]*>(.*?)</tr>', html, re.S)
    return {int(id_): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip() for id_, body in found}


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.text)))


PAGES = ["/city/money", "/city/money.csv", "/city/money/late", "/city/money/late.csv"]
API = ["/api/v1/city/building-costs", "/api/v1/city/late-reports"]


@pytest.mark.parametrize("username", ["resident", "manager", "dispatcher", "technician"])
def test_residents_and_company_staff_are_refused(client, city, costs, username):
    log_in(client, username, PASSWORD)
    for path in PAGES:
        answer = client.get(path, headers={"accept": "text/html"})
        assert answer.status_code == 403, path
        assert "Bunyodkor" not in answer.text
    client.cookies.clear()
    for path in API:
        answer = client.get(path, headers=city.headers[username])
        assert answer.status_code == 403, path
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_visitor_is_asked_to_log_in(client, city):
    for path in [*PAGES, *API]:
        assert client.get(path).status_code == 401, path


@pytest.mark.parametrize("username", ["official", "admin"])
def test_officials_and_admins_read_everything(client, city, costs, username):
    log_in(client, username, PASSWORD)
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    client.cookies.clear()
    for path in API:
        assert client.get(path, headers=city.headers[username]).status_code == 200, path


def test_the_comparison_page_medians_n_and_outliers(browser_of, city, costs_b1):
    official = browser_of("official")
    page = official.get("/city/money?quarter=2026-Q3&category=cleaning")
    assert page.status_code == 200
    companies = rows(page.text, "company")
    # A: 10, 12, 14 (the zero-area building left out); B: 11 and 300.
    assert companies[city.company_a.id] == "Yunusobod Servis 12.00 3 –"
    assert companies[city.company_b.id] == "Chilonzor Uy-Joy 155.50 2 1 high, 0 low"
    assert list(companies) == [city.company_b.id, city.company_a.id]  # the most expensive first
    assert 'data-figure="n">5<' in page.text and 'data-figure="excluded">1<' in page.text
    assert 'data-figure="median">12.00<' in page.text and 'data-figure="mad">2.00<' in page.text
    assert f'data-building="{costs_b1.b2.id}"' in page.text and "Bunyodkor 300" in page.text
    assert "Iglewicz" in page.text  # the method is explained on the page
    districts = rows(page.text, "district")
    assert districts[costs_b1.chilonzor] == "Chilonzor 155.50 2 1 high, 0 low"
    # All categories: A1 spent 10 + 5.
    every = rows(official.get("/city/money?quarter=2026-Q3").text, "company")
    assert every[city.company_a.id].startswith("Yunusobod Servis 14.00 3")
    # One district: only its buildings.
    one = rows(official.get(f"/city/money?quarter=2026-Q3&district_id={costs_b1.chilonzor}").text, "company")
    assert list(one) == [city.company_b.id]
    # The newest quarter with figures is shown by default.
    assert rows(official.get("/city/money?category=cleaning").text, "company") == companies


def test_the_comparison_as_csv_matches_the_page(browser_of, city, costs_b1):
    official = browser_of("official")
    found = csv_rows(official.get("/city/money.csv?quarter=2026-Q3&category=cleaning"))
    by_level = {(r["level"], int(r["id"])): r for r in found}
    a = by_level[("company", city.company_a.id)]
    assert (a["name"], a["buildings"], a["median_uzs_per_m2"], a["outlier_buildings_high"]) == (
        "Yunusobod Servis", "3", "12.0", "0",
    )  # fmt: skip
    b = by_level[("company", city.company_b.id)]
    assert (b["buildings"], b["median_uzs_per_m2"], b["outlier_buildings_high"], b["median_outlier"]) == (
        "2", "155.5", "1", "",
    )  # fmt: skip
    assert {r["city_median_uzs_per_m2"] for r in found} == {"12.0"}
    assert ("district", costs_b1.chilonzor) in by_level
    assert [r["level"] for r in found].count("company") == 2


def test_the_comparison_as_json(client, city, costs_b1):
    answer = client.get(
        "/api/v1/city/building-costs",
        params={"quarter": "2026-Q3", "category": "cleaning", "limit": 1},
        headers=city.headers["official"],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["buildings"], body["excluded_zero_area"], body["median_uzs_per_m2"], body["mad_uzs_per_m2"]) == (
        5, 1, 12.0, 2.0,
    )  # fmt: skip
    assert body["companies"]["total"] == 2 and len(body["companies"]["items"]) == 1
    (first,) = body["companies"]["items"]
    assert first["id"] == city.company_b.id and first["outlier_buildings_high"] == [costs_b1.b2.id]
    assert first["median_uzs_per_m2"] == 155.5


def test_nothing_published_yet(browser_of, city, costs):
    official = browser_of("official")
    page = official.get("/city/money?quarter=2027-Q1")
    assert page.status_code == 200 and "No published report has figures" in page.text
    assert csv_rows(official.get("/city/money.csv?quarter=2027-Q1")) == []


@pytest.mark.parametrize(
    "query",
    [
        "quarter=2026-Q5",
        "quarter=Q3-2026",
        "quarter=2026-Q3%00",
        "category=parking",
        "category=%E2%80%AE",
        "district_id=-1",
        "district_id=99999999999999",
    ],
)
def test_bad_filters_are_422_naming_them(browser_of, city, costs, query):
    official = browser_of("official")
    for path in ("/city/money", "/city/money.csv", "/api/v1/city/building-costs"):
        answer = official.get(f"{path}?{query}")
        assert answer.status_code == 422, (path, query, answer.text)


def test_an_unknown_district_is_404(browser_of, city, costs):
    official = browser_of("official")
    for path in (*PAGES, *API):
        assert official.get(f"{path}?district_id=999999").status_code == 404, path


def test_the_late_page_by_company_and_building(browser_of, city, costs):
    official = browser_of("official")
    page = official.get("/city/money/late")
    assert page.status_code == 200
    companies = rows(page.text, "company")
    # due, on time, published late, late, not yet due
    assert companies[city.company_a.id] == "Yunusobod Servis 4 3 1 0 0"
    assert companies[city.company_b.id] == "Chilonzor Uy-Joy 2 1 0 1 0"
    assert list(companies) == [city.company_b.id, city.company_a.id]  # the most late first
    late = rows(page.text, "building")
    assert set(late) == {costs.a3.id, costs.b1.id}
    assert late[costs.b1.id].endswith("2026-Q3 October 30, 2026 late 10")
    assert late[costs.a3.id].endswith("published late 3")
    one = rows(official.get(f"/city/money/late?district_id={costs.chilonzor}").text, "building")
    assert set(one) == {costs.b1.id}
    assert rows(official.get("/city/money/late?quarter=2026-Q4").text, "company") == {}  # not over


def test_the_late_reports_as_csv_and_json(browser_of, client, city, costs):
    official = browser_of("official")
    found = csv_rows(official.get("/city/money/late.csv"))
    # Due the same day: by company name.
    assert [(int(r["building_id"]), r["state"], r["days_late"], r["due_on"]) for r in found] == [
        (costs.b1.id, "late", "10", "2026-10-30"),
        (costs.a3.id, "published_late", "3", "2026-10-30"),
    ]
    headers = city.headers["official"]
    body = client.get("/api/v1/city/late-reports", headers=headers).json()
    assert body["total"] == 2 and {i["building_id"] for i in body["items"]} == {costs.a3.id, costs.b1.id}
    only_late = client.get("/api/v1/city/late-reports", params={"state": "late"}, headers=headers).json()
    assert [(i["building_id"], i["company_id"], i["days_late"]) for i in only_late["items"]] == [
        (costs.b1.id, city.company_b.id, 10)
    ]
    mine = client.get("/api/v1/city/late-reports", params={"company_id": city.company_a.id}, headers=headers)
    assert [i["building_id"] for i in mine.json()["items"]] == [costs.a3.id]
    assert (
        client.get("/api/v1/city/late-reports", params={"state": "lost"}, headers=headers).status_code == 422
    )


def test_publishing_the_missing_report_clears_it_from_the_late_list(browser_of, session, city, costs):
    official = browser_of("official")
    assert costs.b1.id in rows(official.get("/city/money/late").text, "building")
    publish(session, costs.b1, "2026-Q3", on=date(2026, 11, 9))
    session.commit()
    late = rows(official.get("/city/money/late").text, "building")
    assert "published late 10" in late[costs.b1.id]
    report = session.exec(select(BuildingReport).where(BuildingReport.building_id == costs.b1.id)).all()
    assert len(report) == 2


def test_csv_cells_cannot_run_as_formulas(browser_of, session, city, costs):
    session.get(Building, costs.b1.id).address = "=HYPERLINK(1)"
    session.commit()
    official = browser_of("official")
    found = csv_rows(official.get("/city/money/late.csv"))
    assert "'=HYPERLINK(1)" in {r["address"] for r in found}


def test_one_company_on_the_late_page_and_its_csv(browser_of, city, costs):
    official = browser_of("official")
    page = official.get(f"/city/money/late?company_id={city.company_a.id}")
    assert list(rows(page.text, "company")) == [city.company_a.id]
    assert set(rows(page.text, "building")) == {costs.a3.id}
    assert "All companies" in page.text
    found = csv_rows(official.get(f"/city/money/late.csv?company_id={city.company_a.id}"))
    assert [int(r["building_id"]) for r in found] == [costs.a3.id]


def test_the_companies_table_is_paged(browser_of, session, city, costs, monkeypatch):
    monkeypatch.setattr(city_pages, "PAGE_SIZE", 1)
    official = browser_of("official")
    first = official.get("/city/money/late")
    second = official.get("/city/money/late?company_page=2")
    assert list(rows(first.text, "company")) == [city.company_b.id]
    assert list(rows(second.text, "company")) == [city.company_a.id]
    assert "company_page=2" in first.text
    assert official.get("/city/money/late?company_page=0").status_code == 422


def test_a_report_published_changes_the_comparison_at_once(session, city, costs):
    """Each process keeps recent comparisons by the lines' version: a new report is a new version."""
    q3, cleaning = Quarter(2026, 3), ExpenseCategory.cleaning
    before = cost_comparison(session, q3, cleaning)
    assert (before.result.n, before.result.excluded) == (4, 1)  # A1, A2, A3, B2; the zero-area one
    assert cost_comparison(session, q3, cleaning).result is before.result  # kept
    publish(session, costs.b1, "2026-Q3", lines={"cleaning": uzs(11)}, area_m2=AREA, on=date(2026, 11, 9))
    session.flush()
    after = cost_comparison(session, q3, cleaning)
    assert after.result.n == 5 and after.result.spread.median == pytest.approx(1200)
