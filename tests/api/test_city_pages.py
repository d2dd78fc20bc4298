"""The city dashboard through plain HTTP, as an official's browser without JavaScript uses it.

October 2026 is scored from requests written as plain rows: company A kept its deadlines
and was rated 5, company B missed them and was rated 1, company C (another district) had
one request. Each list's CSV must hold exactly the rows its page shows for the same filters.
"""

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session

from housing import clock
from housing import dashboard as dashboard_module
from housing.accounts.models import Role
from housing.i18n import LANGUAGE_COOKIE
from housing.incidents.models import IncidentSource, Utility
from housing.scores import service
from tests.factories.city import OCTOBER, Dashboard, make_scored_city, rescore
from tests.factories.core import PASSWORD, make_building, make_company, make_user
from tests.factories.scores import add_incident, add_request, local, make_category
from tests.pages import log_in


@pytest.fixture
def dashboard(session: Session, city) -> Dashboard:
    return make_scored_city(session, city)


@pytest.fixture
def official(client, city, dashboard):
    answer = log_in(client, "official", PASSWORD)
    assert answer.status_code == 200, answer.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return client


def rows(html: str, attribute: str) -> dict[int, str]:
    """The table rows that carry data-<attribute>="id", by id, with their HTML."""
    found = re.findall(rf'<tr data-{attribute}="(\d+)"[^>]*>(.*?)</tr>', html, re.S)
    return {int(id_): body for id_, body in found}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.text)))


CITY_PAGES = ["/city/scores", "/city/requests", "/city/incidents"]


@pytest.mark.parametrize("username", ["resident", "manager", "dispatcher", "technician"])
def test_residents_and_company_staff_may_not_open_the_city_dashboard(client, city, dashboard, username):
    log_in(client, username, PASSWORD)
    company = f"/city/companies/{city.company_a.id}"
    for path in [*CITY_PAGES, company, f"{company}/scores.csv", "/city/scores.csv", "/city/requests.csv"]:
        answer = client.get(path, headers={"accept": "text/html"})
        assert answer.status_code == 403, path
        assert "Chilonzor Servis" not in answer.text and "Yunusobod Servis" not in answer.text


def test_a_visitor_is_asked_to_log_in(client, db):
    assert client.get("/city/scores").status_code == 401


@pytest.mark.parametrize("username", ["official", "admin"])
def test_officials_and_admins_open_every_page_of_the_dashboard(client, city, dashboard, username):
    log_in(client, username, PASSWORD)
    for path in [*CITY_PAGES, f"/city/companies/{city.company_a.id}"]:
        assert client.get(path).status_code == 200, path


def test_an_official_lands_on_the_ranking(official):
    assert official.get("/").url.path == "/city/scores"


def test_the_ranking_shows_each_company_with_every_component_and_its_sample(official, city, dashboard):
    page = official.get(f"/city/scores?period={OCTOBER}&district_id=")

    assert page.status_code == 200
    ranked = rows(page.text, "company")
    assert next(iter(ranked)) == city.company_a.id  # on time and rated 5: first
    assert list(ranked)[-1] == city.company_b.id  # late and rated 1: last
    a = ranked[city.company_a.id]
    assert re.search(r'data-component="deadline_compliance">.*?n = 10<', a, re.S)
    assert re.search(r'data-component="resident_satisfaction">.*?5.0 of 5.*?n = 10<', a, re.S)
    c = ranked[dashboard.company_c.id]
    assert re.search(r'data-component="resident_satisfaction">.*?n = 1<', c, re.S)
    assert "Deadline compliance" in page.text and "Incident hours per apartment" in page.text
    assert 'value="2026-10"' in page.text  # the month picker keeps the month


def test_the_district_filter_ranks_the_districts_companies_and_the_csv_has_the_same_rows(
    official, city, dashboard
):
    query = f"period={OCTOBER}&district_id={dashboard.district_c.id}"
    page = official.get(f"/city/scores?{query}")

    assert list(rows(page.text, "company")) == [dashboard.company_c.id]
    assert f'href="/city/scores.csv?{query.replace("&", "&amp;")}"' in page.text
    exported = csv_rows(official.get(f"/city/scores.csv?{query}"))
    assert [(r["company_name"], r["rank"]) for r in exported] == [("Chilonzor Servis", "1")]
    whole = csv_rows(official.get(f"/city/scores.csv?period={OCTOBER}"))
    assert [int(r["company_id"]) for r in whole] == list(
        rows(official.get(f"/city/scores?period={OCTOBER}").text, "company")
    )
    assert whole[0]["resident_satisfaction_sample_size"] == "10"


def test_a_month_without_scores_says_so(official):
    page = official.get("/city/scores?period=2025-01")
    assert "No scores are stored for this month yet." in page.text


def test_a_bad_month_is_refused(official):
    assert official.get("/city/scores?period=2026-13").status_code == 422
    assert official.get("/city/scores?district_id=abc").status_code == 422


def test_the_company_page_draws_twelve_months_with_the_figures_beside(official, session, city, dashboard):
    total = service.company_trend(session, city.company_a.id, [clock.parse_period(OCTOBER)])[0].total
    page = official.get(f"/city/companies/{city.company_a.id}?until={OCTOBER}")

    assert page.status_code == 200
    svg = re.search(r'<svg class="chart"[^>]*id="trend-chart".*?</svg>', page.text, re.S)
    assert svg, "the chart is inline SVG"
    points = re.findall(r'<g data-month="([\d-]+)" data-total="([^"]*)"', svg.group(0))
    assert points[0][0] == "2025-11-01" and points[-1][0] == "2026-10-01"
    assert len(points) == 12
    assert float(points[-1][1]) == pytest.approx(total)
    assert all(value == "" for _, value in points[:-1])  # no scores before October
    assert svg.group(0).count("<circle") == 1  # one dot: the one month with a score
    figures = re.findall(r'<tr data-month="([\d-]+)">(.*?)</tr>', page.text, re.S)
    assert len(figures) == 12
    assert f"{total:,.1f}" in text(figures[-1][1]) and "1 of 3" in text(figures[-1][1])

    exported = csv_rows(official.get(f"/city/companies/{city.company_a.id}/scores.csv?until={OCTOBER}"))
    assert [r["period"] for r in exported][-1] == OCTOBER and len(exported) == 12
    assert float(exported[-1]["total"]) == pytest.approx(total)
    assert exported[-1]["deadline_compliance_sample_size"] == "10"
    assert exported[0]["total"] == ""


def test_an_unknown_company_is_not_found(official):
    assert official.get("/city/companies/999999").status_code == 404


@pytest.fixture
def escalated(session: Session, city, dashboard):
    filer = make_user(session, Role.admin, username="escalator")
    category = make_category(session)
    made = {}
    # All overdue; escalated on 5 November, but for the last (so not on the city's list).
    for name, company, building, filed, resolved_after in (
        ("a", city.company_a, city.building_a, local(2026, 11, 1, 9), None),
        ("b", city.company_b, city.building_b, local(2026, 11, 1, 9), None),
        ("c", dashboard.company_c, dashboard.building_c, local(2026, 11, 1, 9), None),
        ("resolved", city.company_a, city.building_a, local(2026, 11, 1, 10), timedelta(days=6)),
        (None, city.company_a, city.building_a, local(2026, 11, 2, 9), None),
    ):
        request = add_request(
            session,
            company,
            building,
            category=category,
            filed_by=filer,
            filed=filed,
            resolved_after=resolved_after,
            overdue=True,
        )
        if name is not None:
            request.escalated, request.escalated_at = True, local(2026, 11, 5)
            made[name] = request
    session.commit()
    return made


def test_escalated_requests_filter_by_district_and_company_with_a_matching_csv(
    official, city, dashboard, escalated
):
    everything = rows(official.get("/city/requests").text, "request")
    assert set(everything) == {escalated[k].id for k in ("a", "b", "c")}

    in_c = rows(
        official.get(f"/city/requests?district_id={dashboard.district_c.id}&company_id=").text, "request"
    )
    assert list(in_c) == [escalated["c"].id]
    assert "Bunyodkor 7" in in_c[escalated["c"].id] and "Chilonzor Servis" in in_c[escalated["c"].id]

    of_b = rows(official.get(f"/city/requests?company_id={city.company_b.id}").text, "request")
    assert list(of_b) == [escalated["b"].id]

    with_resolved = official.get(f"/city/requests?company_id={city.company_a.id}&state=all")
    assert set(rows(with_resolved.text, "request")) == {escalated["a"].id, escalated["resolved"].id}
    exported = csv_rows(official.get(f"/city/requests.csv?company_id={city.company_a.id}&state=all"))
    assert {int(r["request_id"]) for r in exported} == {escalated["a"].id, escalated["resolved"].id}
    resolved = next(r for r in exported if int(r["request_id"]) == escalated["resolved"].id)
    assert resolved["status"] == "resolved" and resolved["hours_overdue"] == "120.0"  # 6 days, 1 allowed


@pytest.fixture
def incidents(session: Session, city, dashboard):
    made = {
        "hot": add_incident(  # 10 hours without hot water: 4 are allowed
            session, city.building_a, started=local(2026, 10, 3, 8), ended=local(2026, 10, 3, 18)
        ),
        "planned": add_incident(  # the yearly 3-day maintenance: 14 days are allowed
            session,
            dashboard.building_c,
            started=local(2026, 10, 10),
            ended=local(2026, 10, 13),
            source=IncidentSource.planned,
        ),
        "power": add_incident(  # 1 hour without power: 2 are allowed
            session,
            city.building_b,
            started=local(2026, 10, 20, 9),
            ended=local(2026, 10, 20, 10),
            utility=Utility.electricity,
        ),
        "november": add_incident(
            session, city.building_a, started=local(2026, 11, 2), ended=local(2026, 11, 3)
        ),
    }
    session.commit()
    return made


def test_incidents_show_duration_against_the_allowance_and_filter_with_a_matching_csv(
    official, city, dashboard, incidents
):
    page = official.get(f"/city/incidents?period={OCTOBER}")
    shown = rows(page.text, "incident")
    assert set(shown) == {incidents[k].id for k in ("hot", "planned", "power")}
    hot = text(shown[incidents["hot"].id])
    assert "Hot water" in hot and "10 h" in hot and "4 h" in hot and "over the allowance" in hot
    assert "over the allowance" not in shown[incidents["planned"].id]
    assert "336 h" in text(shown[incidents["planned"].id])
    assert "Yunusobod Servis" in hot  # the company managing the building then

    hot_water = f"period={OCTOBER}&utility=hot_water&source="
    assert set(rows(official.get(f"/city/incidents?{hot_water}").text, "incident")) == {
        incidents["hot"].id,
        incidents["planned"].id,
    }
    in_c = f"period={OCTOBER}&district_id={dashboard.district_c.id}&utility=hot_water"
    assert list(rows(official.get(f"/city/incidents?{in_c}").text, "incident")) == [incidents["planned"].id]
    exported = csv_rows(official.get(f"/city/incidents.csv?{hot_water}"))
    assert {int(r["incident_id"]): r["over_allowance"] for r in exported} == {
        incidents["hot"].id: "yes",
        incidents["planned"].id: "no",
    }
    assert official.get("/city/incidents?utility=steam").status_code == 422


def test_the_dashboard_speaks_uzbek_with_babels_numbers(official, city, dashboard):
    official.cookies.set(LANGUAGE_COOKIE, "uz")
    page = official.get(f"/city/scores?period={OCTOBER}")

    assert '<html lang="uz">' in page.text
    assert "Kompaniyalar reytingi, Oktabr 2026" in text(page.text)
    assert "Muddatlarga rioya" in page.text
    a = rows(page.text, "company")[city.company_a.id]
    assert re.search(r"\d+,\d</strong>", a), "the total with a decimal comma"
    official.cookies.set(LANGUAGE_COOKIE, "ru")
    ru = official.get(f"/city/scores?period={OCTOBER}")
    assert "Рейтинг компаний" in ru.text


def test_the_ranking_is_a_few_queries_whatever_the_number_of_companies(
    official, session, app, city, dashboard
):
    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - the statement text
        event.listen(app.state.engine, "before_cursor_execute", listener)
        try:
            assert official.get(f"/city/scores?period={OCTOBER}").status_code == 200
        finally:
            event.remove(app.state.engine, "before_cursor_execute", listener)
        return len(seen)

    few = statements()
    filer = make_user(session, Role.admin, username="bulk")
    category = make_category(session)
    for _ in range(20):
        company = make_company(session)
        building = make_building(session, company)
        add_request(
            session, company, building, category=category, filed_by=filer, filed=local(2026, 10, 5, 9)
        )
    session.commit()
    rescore(session)

    assert len(rows(official.get(f"/city/scores?period={OCTOBER}").text, "company")) == 23
    assert statements() == few


def test_every_response_says_how_long_the_server_took(official, client):
    for answer in (official.get("/city/scores"), client.get("/healthz"), client.get("/no-such-page")):
        timing = answer.headers["server-timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d\d", timing), timing


@pytest.mark.parametrize("rows_a_part", [1, 2, 3])
def test_a_large_export_comes_in_parts_each_naming_the_next(
    official, city, escalated, incidents, monkeypatch, rows_a_part
):
    """Every row once, in list order, EXPORT_ROWS a part; the last part names no next one."""
    monkeypatch.setattr(dashboard_module, "EXPORT_ROWS", rows_a_part)
    for first, key, whole in (
        (f"/city/requests.csv?company_id={city.company_a.id}&state=all", "request_id", 2),
        (f"/city/incidents.csv?period={OCTOBER}", "incident_id", 3),
    ):
        seen, url, parts = [], first, 0
        while url:
            answer = official.get(url)
            assert answer.status_code == 200, answer.text
            part = csv_rows(answer)
            assert 0 < len(part) <= rows_a_part
            seen += [int(r[key]) for r in part]
            parts += 1
            link = answer.headers.get("link")
            url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        assert len(seen) == whole == len(set(seen)), seen
        assert parts == -(-whole // rows_a_part)
        monkeypatch.setattr(dashboard_module, "EXPORT_ROWS", 5_000)
        assert seen == [int(r[key]) for r in csv_rows(official.get(first))]  # one part: the same order
        assert "link" not in official.get(first).headers
        monkeypatch.setattr(dashboard_module, "EXPORT_ROWS", rows_a_part)
