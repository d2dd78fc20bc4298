"""Who sees what of the building view: the page, its live stream and its JSON, by role.

Another company's staff and residents of other buildings get 404 for all three; a resident
of the building sees the common state and technical marks, never a neighbour's debt or
requests; staff of the managing company and officials see everything. The live stream's
own behaviour (updates, keep-alives, resuming) is in test_twin_live.py.
"""

import pytest
from sqlmodel import select

from housing.accounts.models import User
from housing.i18n import LANGUAGE_COOKIE
from housing.twin.building import DEBT, REQUEST
from tests.api.conftest import City
from tests.factories.core import login
from tests.factories.twin import NOW, make_twin_building


@pytest.fixture
def twin(session, city: City, frozen_clock):
    frozen_clock.set(NOW)
    made = make_twin_building(session, company=city.company_a)
    session.commit()
    return made


@pytest.fixture
def twin_resident(client, session, twin) -> dict[str, str]:
    user = session.exec(select(User).where(User.id == twin.resident_id)).one()
    return login(client, user.username)


def _urls(building_id) -> list[str]:
    return [
        f"/buildings/{building_id}",
        f"/buildings/{building_id}/live",
        f"/api/v1/buildings/{building_id}/state",
    ]


@pytest.mark.parametrize("who", ["manager_b", "resident"])
def test_outsiders_get_404_for_the_page_the_stream_and_the_json(client, city: City, twin, who):
    for url in _urls(twin.building.id):
        response = client.get(url, headers=city.headers[who])
        assert response.status_code == 404, (url, response.status_code)
        assert str(twin.building.address) not in response.text


def test_without_logging_in_nothing_is_shown(client, twin):
    for url in _urls(twin.building.id):
        response = client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 401, url


@pytest.mark.parametrize("value", ["0", "-1", str(2**31), str(2**63), "abc", "1.5", "%00"])
def test_absurd_ids_are_4xx_never_5xx(client, city: City, twin, value):
    for url in _urls(value):
        response = client.get(url, headers=city.headers["official"])
        assert response.status_code in (404, 422), (url, response.status_code, response.text)


@pytest.mark.parametrize("who", ["official", "admin", "manager", "dispatcher", "technician"])
def test_staff_and_officials_see_everything(client, city: City, twin, who):
    state = client.get(f"/api/v1/buildings/{twin.building.id}/state", headers=city.headers[who])
    assert state.status_code == 200, state.text
    body = state.json()
    assert body["full"] is True
    assert body["debts_minor"] == 12_345_00
    marks = {
        c["number"]: c["marks"] for e in body["grid"]["entrances"] for f in e["floors"] for c in f["cells"]
    }
    assert marks["9"] == [DEBT] and marks["11"] == [REQUEST] and marks["3"] == ["leak"]
    assert {r["id"] for r in body["requests"]} == {twin.request.id, twin.common_request.id}
    assert body["grade"]["grade"] == "yellow"
    page = client.get(f"/buildings/{twin.building.id}", headers=city.headers[who])
    assert page.status_code == 200
    assert f'data-request="{twin.request.id}"' in page.text
    assert "mark-debt" in page.text


def test_a_resident_sees_the_common_state_but_no_neighbours_debt_or_requests(client, twin, twin_resident):
    body = client.get(f"/api/v1/buildings/{twin.building.id}/state", headers=twin_resident).json()
    assert body["full"] is False
    assert body["debts_minor"] is None
    cells = [c for e in body["grid"]["entrances"] for f in e["floors"] for c in f["cells"]]
    assert not any(DEBT in c["marks"] or REQUEST in c["marks"] for c in cells)
    assert {c["number"] for c in cells if c["marks"]} == {"3", "5", "7"}  # leak, cold, silent
    assert [c["number"] for c in cells if c["home"]] == ["1"]
    assert [r["id"] for r in body["requests"]] == [twin.common_request.id]
    assert body["hot_water"]["latest"]["mean"] == "50.0"
    assert body["heat_meters"][0]["serial"] == f"HEAT-{twin.building.id}"
    assert body["interruptions"][0]["id"] == twin.incident.id
    assert body["grade"]["components"][0]["name"] == "incident_hours"
    page = client.get(f"/buildings/{twin.building.id}", headers=twin_resident)
    assert page.status_code == 200
    assert "mark-debt" not in page.text and "mark-request" not in page.text
    assert f'data-request="{twin.request.id}"' not in page.text
    assert f'data-request="{twin.common_request.id}"' in page.text
    assert "12,345" not in page.text and "12 345" not in page.text


def test_the_page_works_without_javascript(client, city: City, twin):
    client.cookies.set(LANGUAGE_COOKIE, "en")
    page = client.get(f"/buildings/{twin.building.id}", headers=city.headers["official"])
    html = page.text
    assert "As read at" in html
    assert "apartments with a debt past due: 1" in html and "debtors" not in html  # inputs in words
    assert f'href="/buildings/{twin.building.id}"' in html  # the refresh link
    assert 'data-apartment="' in html and "mark-leak" in html
    assert "<svg" in html and "twin-hot-water-chart" in html
    assert "/static/twin.js" in html and "<script>" not in html
    assert "Content-Security-Policy" in page.headers


def test_a_building_not_graded_yet_says_so(client, session, city: City, frozen_clock):
    frozen_clock.set(NOW)
    bare = make_twin_building(session, company=city.company_a, graded=False)
    session.commit()
    client.cookies.set(LANGUAGE_COOKIE, "en")
    page = client.get(f"/buildings/{bare.building.id}", headers=city.headers["manager"])
    assert "Not graded yet." in page.text
    body = client.get(f"/api/v1/buildings/{bare.building.id}/state", headers=city.headers["manager"]).json()
    assert body["grade"] is None


def test_the_console_links_the_view(browser_of, city: City):
    page = browser_of("manager").get(f"/console/buildings/{city.building_a.id}")
    assert f'href="/buildings/{city.building_a.id}"' in page.text


def test_a_resident_finds_the_building_view_from_their_apartment(client, twin, twin_resident):
    home = twin.apartments["1"]
    page = client.get(f"/apartments/{home.id}", headers=twin_resident)
    assert page.status_code == 200
    assert f'href="/buildings/{twin.building.id}"' in page.text
    assert client.get(f"/buildings/{twin.building.id}", headers=twin_resident).status_code == 200
