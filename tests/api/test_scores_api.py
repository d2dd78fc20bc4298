"""Quality scores over HTTP: who reads them, the ranking, the district filter, CSV, the trend."""

import csv
import io
from datetime import date, timedelta

import pytest

from housing.clock import month
from housing.registry import service as registry
from housing.scores import scoring, service
from tests.factories.core import make_building, make_company, make_district
from tests.factories.scores import add_request, local, make_category, make_filer

TZ = "Asia/Tashkent"
NOW = local(2026, 11, 2, 4)
ROLES = ("admin", "official", "manager", "manager_b", "dispatcher", "technician", "resident")


@pytest.fixture
def scored(session, city):
    """October and September scored: A answers in time, B is late; C is a third company in
    another district with one request."""
    chilonzor = make_district(session, name="Chilonzor")
    registry.update_company(session, city.company_a, {"district_id": city.building_a.district_id})
    registry.update_company(session, city.company_b, {"district_id": city.building_a.district_id})
    company_c = make_company(session, name="Chilonzor Servis", district_id=chilonzor.id)
    building_c = make_building(session, company_c, district_id=chilonzor.id)
    category, filer = make_category(session), make_filer(session)
    for company, building, late in (
        (city.company_a, city.building_a, 1),
        (city.company_b, city.building_b, 6),
        (company_c, building_c, 0),
    ):
        requests = 10 if company is not company_c else 1
        for n in range(requests):
            for filed in (local(2026, 10, 2 + n, 9), local(2026, 9, 2 + n, 9)):
                add_request(
                    session, company, building, category=category, filed_by=filer, filed=filed,
                    resolved_after=timedelta(hours=30 if n < late else 4), overdue=n < late, rating=4,
                )  # fmt: skip
    for period in (date(2026, 9, 1), date(2026, 10, 1)):
        service.recompute_month(session, month(period, TZ), now=NOW)
    session.commit()
    return city, company_c, chilonzor


def test_every_role_reads_the_same_ranking_and_strangers_none(client, scored):
    city, _, _ = scored
    bodies = []
    for role in ROLES:
        response = client.get("/api/v1/scores", params={"period": "2026-10"}, headers=city.headers[role])
        assert response.status_code == 200, (role, response.text)
        bodies.append(response.json())
    assert all(body == bodies[0] for body in bodies)
    assert client.get("/api/v1/scores", params={"period": "2026-10"}).status_code == 401
    assert client.get("/api/v1/scores.csv", params={"period": "2026-10"}).status_code == 401
    assert client.get(f"/api/v1/companies/{city.company_a.id}/scores").status_code == 401


def test_the_ranking_shows_every_component_with_its_inputs(client, scored):
    city, _, _ = scored
    body = client.get("/api/v1/scores", params={"period": "2026-10"}, headers=city.headers["official"]).json()
    assert body["total"] == 3
    names = [item["company_name"] for item in body["items"]]
    # A (9 of 10 in time) first; C's one perfect request is shrunk to the city mean and does not win.
    assert names == ["Yunusobod Servis", "Chilonzor Servis", "Chilonzor Uy-Joy"]
    assert [item["rank"] for item in body["items"]] == [1, 2, 3]
    first = body["items"][0]
    assert first["companies"] == 3
    assert first["district_name"] == "Yunusobod"
    assert [c["code"] for c in first["components"]] == [c.code for c in scoring.COMPONENTS]
    compliance = first["components"][0]
    assert compliance["numerator"] == 9
    assert compliance["denominator"] == 10
    assert compliance["sample_size"] == 10
    assert compliance["value"] == 0.9
    assert compliance["city_mean"] == round((9 + 4 + 1) / 21, 6)
    assert compliance["prior_strength"] == 20
    assert compliance["shrunk"] == round((9 + 20 * compliance["city_mean"]) / 30, 6)
    assert compliance["points"] == round(100 * compliance["shrunk"], 2)
    satisfaction = first["components"][3]
    assert (satisfaction["numerator"], satisfaction["sample_size"], satisfaction["points"]) == (40, 10, 75.0)


def test_district_ranking_and_paging(client, scored):
    city, company_c, chilonzor = scored
    headers = city.headers["resident"]
    yunusobod = city.building_a.district_id
    body = client.get(
        "/api/v1/scores", params={"period": "2026-10", "district_id": yunusobod}, headers=headers
    ).json()
    assert [(i["company_name"], i["rank"], i["companies"]) for i in body["items"]] == [
        ("Yunusobod Servis", 1, 2),
        ("Chilonzor Uy-Joy", 2, 2),
    ]
    only = client.get(
        "/api/v1/scores", params={"period": "2026-10", "district_id": chilonzor.id}, headers=headers
    ).json()
    assert [(i["company_id"], i["rank"]) for i in only["items"]] == [(company_c.id, 1)]
    page = client.get(
        "/api/v1/scores", params={"period": "2026-10", "limit": 1, "offset": 1}, headers=headers
    ).json()
    assert (page["total"], [i["rank"] for i in page["items"]]) == (3, [2])
    missing = client.get(
        "/api/v1/scores", params={"period": "2026-10", "district_id": 99999}, headers=headers
    )
    assert missing.status_code == 404


def test_bad_and_unscored_periods(client, scored):
    city, _, _ = scored
    headers = city.headers["official"]
    for bad in ("2026-13", "2026-1", "October"):
        assert client.get("/api/v1/scores", params={"period": bad}, headers=headers).status_code == 422
    assert client.get("/api/v1/scores", headers=headers).status_code == 422
    empty = client.get("/api/v1/scores", params={"period": "2025-01"}, headers=headers).json()
    assert (empty["items"], empty["total"]) == ([], 0)


def test_csv_export_has_a_line_per_company_with_every_input(client, scored):
    city, _, _ = scored
    headers = city.headers["official"]
    response = client.get("/api/v1/scores.csv", params={"period": "2026-10"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="quality-scores-2026-10.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    ranking = client.get("/api/v1/scores", params={"period": "2026-10"}, headers=headers).json()["items"]
    assert [r["company_name"] for r in rows] == [i["company_name"] for i in ranking]
    assert [float(r["total"]) for r in rows] == [i["total"] for i in ranking]
    first = rows[0]
    assert first["rank"] == "1"
    assert first["deadline_compliance_numerator"] == "9.0"
    assert first["deadline_compliance_sample_size"] == "10"
    assert float(first["resident_satisfaction_points"]) == 75.0
    assert first["incident_hours_sample_size"] == "2"  # the two apartments of building A
    district = client.get(
        "/api/v1/scores.csv",
        params={"period": "2026-10", "district_id": city.building_a.district_id},
        headers=headers,
    )
    assert len(list(csv.DictReader(io.StringIO(district.text)))) == 2


def test_a_companys_trend_month_by_month(client, scored):
    city, _, _ = scored
    response = client.get(
        f"/api/v1/companies/{city.company_b.id}/scores",
        params={"months": 12, "until": "2026-11"},
        headers=city.headers["manager"],  # another company's staff may read it too: it is public
    )
    assert response.status_code == 200
    body = response.json()
    assert body["company_name"] == "Chilonzor Uy-Joy"
    assert [(m["period"], m["rank"], m["companies"]) for m in body["months"]] == [
        ("2026-09", 3, 3),
        ("2026-10", 3, 3),
    ]
    short = client.get(
        f"/api/v1/companies/{city.company_b.id}/scores",
        params={"months": 1, "until": "2026-10"},
        headers=city.headers["resident"],
    ).json()
    assert [m["period"] for m in short["months"]] == ["2026-10"]
    assert client.get("/api/v1/companies/99999/scores", headers=city.headers["official"]).status_code == 404
    assert (
        client.get(
            f"/api/v1/companies/{city.company_b.id}/scores",
            params={"months": 0},
            headers=city.headers["official"],
        ).status_code
        == 422
    )
