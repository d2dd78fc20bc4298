"""Service requests over HTTP: filing, scoping, the lifecycle, comments, rating, photos, outages."""

from datetime import UTC, datetime, timedelta

import pytest

from housing.incidents.models import Utility
from housing.requests.jobs import sweep_deadlines
from tests.api.conftest import City
from tests.factories.core import login
from tests.factories.requests import make_resident, png_bytes
from tests.factories.scores import add_incident

API = "/api/v1"


def file(client, city: City, who="resident", **body):
    payload = {
        "apartment_id": city.home.id,
        "category_id": city.category.id,
        "description": "Ceiling leaks",
    } | body
    return client.post(f"{API}/requests", json=payload, headers=city.headers[who])


def move(client, city: City, request_id: int, to: str, who="dispatcher", **body):
    return client.post(
        f"{API}/requests/{request_id}/transitions", json={"to": to, **body}, headers=city.headers[who]
    )


def ids(client, city: City, who: str, query: str = "") -> set[int]:
    response = client.get(f"{API}/requests{query}", headers=city.headers[who])
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["items"]}


def test_a_resident_files_for_their_home_and_the_company_sees_it(client, city: City):
    response = file(client, city, description="Water comes through the kitchen ceiling")
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["status"], created["company_id"], created["building_id"]) == (
        "new",
        city.company_a.id,
        city.building_a.id,
    )
    deadline = datetime.fromisoformat(created["deadline_at"]) - datetime.fromisoformat(created["created_at"])
    assert deadline == timedelta(days=1)
    both = {city.home_request.id, created["id"]}
    for who in ("resident", "dispatcher", "technician", "manager", "official", "admin"):
        assert ids(client, city, who) == both, who
    assert ids(client, city, "manager_b") == set()


def test_a_building_wide_request_is_seen_by_whoever_filed_it_not_by_the_neighbours(
    client, city: City, session
):
    neighbour = make_resident(session, city.neighbour, owner=False)
    session.commit()
    headers = login(client, neighbour.username)
    response = client.post(
        f"{API}/requests",
        json={
            "building_id": city.building_a.id,
            "category_id": city.category.id,
            "description": "Door is broken",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    theirs = response.json()["id"]
    assert theirs not in ids(client, city, "resident")
    assert client.get(f"{API}/requests/{theirs}", headers=city.headers["resident"]).status_code == 404
    assert theirs in ids(client, city, "dispatcher")


def test_a_dispatcher_files_after_a_phone_call_and_the_resident_sees_it(client, city: City):
    response = file(
        client,
        city,
        who="dispatcher",
        apartment_id=None,
        building_id=city.building_a.id,
        requester_person_id=city.resident_person_id,
        emergency=True,
        description="Gas smell in the stairwell",
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["filed_by_id"] == city.users["dispatcher"]
    assert created["requester_person_id"] == city.resident_person_id
    gap = datetime.fromisoformat(created["deadline_at"]) - datetime.fromisoformat(created["created_at"])
    assert gap == timedelta(minutes=30)
    assert created["id"] in ids(client, city, "resident")


def test_a_dispatcher_cannot_file_for_a_person_of_another_company(client, city: City, session):
    stranger = make_resident(session, city.far_away, owner=False)
    session.commit()
    response = file(client, city, who="dispatcher", requester_person_id=stranger.person_id)
    assert response.status_code == 422
    assert response.json()["field"] == "requester_person_id"


def test_the_lifecycle_over_http_with_history_and_refusals(client, city: City):
    rid = city.home_request.id
    refused = move(client, city, rid, "resolved")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "from new it may become" in refused.json()["detail"]
    assert move(client, city, rid, "accepted").status_code == 201
    assert move(client, city, rid, "in_progress", who="technician").status_code == 201
    assert move(client, city, rid, "resolved", who="technician").status_code == 201
    reopened = move(client, city, rid, "reopened", who="resident", reason="still drips")
    assert reopened.status_code == 201, reopened.text
    detail = client.get(f"{API}/requests/{rid}", headers=city.headers["resident"]).json()
    assert detail["reopen_count"] == 1
    assert [(t["from_status"], t["to_status"]) for t in detail["transitions"]] == [
        (None, "new"),
        ("new", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "reopened"),
    ]
    assert detail["transitions"][2]["actor_id"] == city.users["technician"]
    assert detail["transitions"][4]["reason"] == "still drips"


def test_deferring_to_a_past_date_is_refused(client, city: City):
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = move(client, city, city.home_request.id, "deferred", reason="parts", until=past)
    assert response.status_code == 422
    assert response.json()["field"] == "until"
    naive = move(client, city, city.home_request.id, "deferred", reason="parts", until="2099-01-01T10:00:00")
    assert naive.status_code == 422


def test_internal_comments_are_hidden_from_the_resident(client, city: City):
    rid = city.home_request.id
    url = f"{API}/requests/{rid}/comments"
    assert (
        client.post(
            url, json={"body": "Neighbour above?", "internal": True}, headers=city.headers["dispatcher"]
        ).status_code
        == 201
    )
    assert (
        client.post(url, json={"body": "We come at 15:00"}, headers=city.headers["dispatcher"]).status_code
        == 201
    )
    assert client.post(url, json={"body": "Thanks"}, headers=city.headers["resident"]).status_code == 201
    assert (
        client.post(url, json={"body": "x", "internal": True}, headers=city.headers["resident"]).status_code
        == 403
    )

    def bodies(who):
        return [
            c["body"]
            for c in client.get(f"{API}/requests/{rid}", headers=city.headers[who]).json()["comments"]
        ]

    assert bodies("resident") == ["We come at 15:00", "Thanks"]
    assert bodies("manager") == ["Neighbour above?", "We come at 15:00", "Thanks"]


def test_assigning_a_technician(client, city: City):
    url = f"{API}/requests/{city.home_request.id}/assignment"
    ok = client.put(url, json={"assignee_id": city.users["technician"]}, headers=city.headers["dispatcher"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["assignee_id"] == city.users["technician"]
    other = client.put(url, json={"assignee_id": city.users["manager_b"]}, headers=city.headers["dispatcher"])
    assert other.status_code == 422


def test_the_resident_rates_once_and_only_their_own_request(client, city: City, session):
    rid = city.home_request.id
    url = f"{API}/requests/{rid}/rating"
    assert (
        client.post(url, json={"rating": 5}, headers=city.headers["resident"]).status_code == 409
    )  # not resolved
    move(client, city, rid, "accepted")
    move(client, city, rid, "resolved")
    flatmate = make_resident(session, city.home, owner=False)
    session.commit()
    flatmate_headers = login(client, flatmate.username)
    assert client.get(f"{API}/requests/{rid}", headers=flatmate_headers).status_code == 200
    assert client.post(url, json={"rating": 1}, headers=flatmate_headers).status_code == 403
    assert client.post(url, json={"rating": 6}, headers=city.headers["resident"]).status_code == 422
    rated = client.post(
        url, json={"rating": 4, "comment": "Fixed in a day"}, headers=city.headers["resident"]
    )
    assert rated.status_code == 200, rated.text
    assert (rated.json()["rating"], rated.json()["rating_comment"]) == (4, "Fixed in a day")
    again = client.post(url, json={"rating": 5}, headers=city.headers["resident"])
    assert again.status_code == 409
    assert "already rated" in again.json()["detail"]


def test_a_rating_on_a_request_out_of_sight_is_not_found(client, city: City, session):
    stranger = make_resident(session, city.far_away, owner=False)
    session.commit()
    response = client.post(
        f"{API}/requests/{city.home_request.id}/rating",
        json={"rating": 1},
        headers=login(client, stranger.username),
    )
    assert response.status_code == 404
    session.expire_all()
    session.refresh(city.home_request)
    assert city.home_request.rating is None  # nothing was stored


@pytest.fixture
def photo_dir(settings, tmp_path):
    settings.requests.photo_dir = tmp_path
    settings.requests.max_photo_bytes = 2048
    return tmp_path


def test_photo_upload_keeps_images_and_refuses_the_rest(client, city: City, photo_dir):
    url = f"{API}/requests/{city.home_request.id}/photos"
    headers = city.headers["resident"]
    ok = client.post(url, files={"photo": ("leak.png", png_bytes(), "image/png")}, headers=headers)
    assert ok.status_code == 201, ok.text
    downloaded = client.get(f"{url}/{ok.json()['id']}", headers=city.headers["dispatcher"])
    assert downloaded.content == png_bytes()
    assert downloaded.headers["content-type"] == "image/png"
    assert client.get(f"{url}/{ok.json()['id']}", headers=city.headers["manager_b"]).status_code == 404

    fake = client.post(url, files={"photo": ("leak.jpg", b"<?php echo 1; ?>", "image/jpeg")}, headers=headers)
    assert fake.status_code == 415
    assert "not a readable image" in fake.json()["detail"]
    big = client.post(
        url, files={"photo": ("big.png", png_bytes() + b"\0" * 4096, "image/png")}, headers=headers
    )
    assert big.status_code == 413
    assert len(list(photo_dir.iterdir())) == 1
    detail = client.get(f"{API}/requests/{city.home_request.id}", headers=headers).json()
    assert [p["content_type"] for p in detail["photos"]] == ["image/png"]


def test_spam_limits_answer_clearly(client, city: City, settings):
    settings.requests.daily_limit = 3
    duplicate = file(client, city, description=city.home_request.description)
    assert duplicate.status_code == 409
    assert "already filed today" in duplicate.json()["detail"]
    assert duplicate.json()["request_id"] == city.home_request.id
    assert file(client, city, description="Second problem").status_code == 201
    assert file(client, city, description="Third problem").status_code == 201
    fourth = file(client, city, description="Fourth problem")
    assert fourth.status_code == 429
    assert "at most 3 requests a day" in fourth.json()["detail"]
    assert int(fourth.headers["Retry-After"]) > 0


def test_admins_edit_category_deadlines_and_new_requests_follow(client, city: City):
    admin = city.headers["admin"]
    created = client.post(
        f"{API}/request-categories",
        json={"code": "lift", "name": "Lift", "deadline_minutes": 1440},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    lift = created.json()["id"]
    assert (
        client.post(
            f"{API}/request-categories",
            json={"code": "lift", "name": "Lift", "deadline_minutes": 60},
            headers=admin,
        ).status_code
        == 409
    )
    assert (
        client.patch(
            f"{API}/request-categories/{lift}", json={"deadline_minutes": 0}, headers=admin
        ).status_code
        == 422
    )
    assert (
        client.patch(
            f"{API}/request-categories/{lift}", json={"deadline_minutes": 120}, headers=admin
        ).status_code
        == 200
    )
    request = file(client, city, category_id=lift, description="Lift stuck").json()
    gap = datetime.fromisoformat(request["deadline_at"]) - datetime.fromisoformat(request["created_at"])
    assert gap == timedelta(hours=2)


def test_escalated_requests_show_up_for_officials(client, city: City, app, db, settings):
    later = datetime.now(UTC) + timedelta(days=5)
    sweep_deadlines(db, settings, now=later)
    assert ids(client, city, "official", "?escalated=true") == {city.home_request.id}
    assert ids(client, city, "manager", "?overdue=true&status=new") == {city.home_request.id}
    assert ids(client, city, "manager", "?overdue=false") == set()
    assert ids(client, city, "official", f"?category=roof_leak&building_id={city.building_a.id}") == {
        city.home_request.id
    }
    assert ids(client, city, "official", "?category=lift") == set()


def test_outages_and_incidents_of_a_building_with_their_allowance(frozen_clock, client, city: City, app):
    now = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    frozen_clock.set(now)
    body = {
        "building_id": city.building_a.id,
        "utility": "cold_water",
        "starts_at": "2026-07-02T09:00:00+05:00",
        "ends_at": "2026-07-02T15:00:00+05:00",
        "detail": "Riser replacement",
    }
    declared = client.post(f"{API}/outages", json=body, headers=city.headers["manager"])
    assert declared.status_code == 201, declared.text
    hot = body | {"utility": "hot_water", "ends_at": "2026-07-12T09:00:00+05:00"}
    assert client.post(f"{API}/outages", json=hot, headers=city.headers["dispatcher"]).status_code == 201
    past = body | {"starts_at": "2026-06-01T09:00:00+05:00", "ends_at": "2026-06-01T10:00:00+05:00"}
    assert client.post(f"{API}/outages", json=past, headers=city.headers["manager"]).status_code == 422
    backwards = body | {"ends_at": "2026-07-02T08:00:00+05:00"}
    assert client.post(f"{API}/outages", json=backwards, headers=city.headers["manager"]).status_code == 422

    listed = client.get(f"{API}/buildings/{city.building_a.id}/incidents", headers=city.headers["resident"])
    assert listed.status_code == 200, listed.text
    rows = {
        (
            r["utility"],
            r["source"],
            r["duration_hours"],
            r["allowed_hours"],
            r["over_allowance"],
            r["ongoing"],
        )
        for r in listed.json()["items"]
    }
    assert rows == {
        ("cold_water", "planned", 6.0, 4.0, True, False),
        ("hot_water", "planned", 240.0, 336.0, False, False),
    }


def test_an_open_sensor_incident_runs_to_now(frozen_clock, client, city: City, app, session):
    started = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    add_incident(
        session,
        city.building_a,
        utility=Utility.hot_water,
        origin="sensor:HWT-1",
        started=started,
        ended=None,
    )
    session.commit()
    frozen_clock.set(started + timedelta(hours=5, minutes=30))
    [row] = client.get(
        f"{API}/buildings/{city.building_a.id}/incidents", headers=city.headers["official"]
    ).json()["items"]
    assert (
        row["source"],
        row["ongoing"],
        row["duration_hours"],
        row["allowed_hours"],
        row["over_allowance"],
    ) == (
        "sensor",
        True,
        5.5,
        4.0,
        True,
    )
