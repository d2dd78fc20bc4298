"""The announcements API: staff post to their buildings, officials to the city; residents read theirs
and mark them read; staff see read counts; files are checked; wrong input is a clear 4xx with nothing written."""

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from housing.announcements.models import Announcement
from housing.db import utcnow
from housing.notifications.models import Notification
from tests.factories.requests import png_bytes
from tests.unit.test_announcements import pdf_bytes

URL = "/api/v1/announcements"


def body(city, **kw) -> dict:
    fields = {
        "reach": "buildings",
        "texts": [
            {"language": "en", "title": "Lift repair", "text": "The lift stops on Friday <b>all day</b>."}
        ],
        "targets": [{"building_id": city.building_a.id}],
    }
    return fields | kw


@pytest.fixture
def settings(settings, tmp_path):
    settings.announcements.attachment_dir = tmp_path / "files"
    return settings


def count(session, model) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


def test_staff_post_a_resident_reads_it_and_staff_see_it_read(client, city, session):
    posted = client.post(URL, json=body(city), headers=city.headers["manager"])
    assert posted.status_code == 201, posted.text
    announcement = posted.json()
    assert announcement["recipients"] == 1 and announcement["read_count"] == 0
    assert announcement["text"] == "The lift stops on Friday <b>all day</b>."  # as typed

    mine = client.get(URL, headers=city.headers["resident"]).json()
    assert [(a["id"], a["read"], a["recipients"]) for a in mine["items"]] == [
        (announcement["id"], False, None)
    ]

    for _ in range(2):  # twice: counted once
        read = client.post(f"{URL}/{announcement['id']}/read", headers=city.headers["resident"])
        assert read.status_code == 204

    seen = client.get(f"{URL}/{announcement['id']}", headers=city.headers["manager"]).json()
    assert (seen["recipients"], seen["read_count"]) == (1, 1)
    assert client.get(URL, headers=city.headers["resident"]).json()["items"][0]["read"] is True
    notice = session.exec(select(Notification).where(Notification.user_id == city.users["resident"])).one()
    assert notice.read_at is not None


def test_others_do_not_see_it(client, city):
    posted = client.post(URL, json=body(city), headers=city.headers["manager"]).json()

    for who in ("manager_b",):
        assert client.get(f"{URL}/{posted['id']}", headers=city.headers[who]).status_code == 404
        assert client.get(URL, headers=city.headers[who]).json()["total"] == 0
    assert client.get(f"{URL}/{posted['id']}", headers=city.headers["official"]).status_code == 200
    assert client.post(f"{URL}/{posted['id']}/read", headers=city.headers["manager"]).status_code == 403


def test_an_official_posts_city_wide_and_the_resident_sees_it_pinned_first(client, city):
    client.post(URL, json=body(city), headers=city.headers["manager"])
    pin = (utcnow() + timedelta(days=3)).date().isoformat()
    wide = {"reach": "city", "targets": [], "pinned_until": pin, "urgent": True}
    posted = client.post(URL, json=body(city, **wide), headers=city.headers["official"])
    assert posted.status_code == 201, posted.text
    client.post(URL, json=body(city), headers=city.headers["manager"])

    items = client.get(URL, headers=city.headers["resident"]).json()["items"]
    assert items[0]["id"] == posted.json()["id"] and items[0]["urgent"] is True
    assert len(items) == 3


@pytest.mark.parametrize(
    "who, change, status",
    [
        ("official", {}, 403),  # officials post to districts or the city
        ("manager", {"reach": "city", "targets": []}, 403),
        ("resident", {}, 403),
        ("technician", {}, 403),
        ("manager", {"targets": [{"building_id": "far"}]}, 422),  # another company's
        ("manager", {"targets": [{"building_id": 2**31}]}, 422),
        ("manager", {"targets": [{"building_id": "own", "entrance": 7}]}, 422),
        ("manager", {"targets": []}, 422),
        ("manager", {"texts": []}, 422),
        ("manager", {"texts": [{"language": "de", "title": "a", "text": "b"}]}, 422),
        ("manager", {"texts": [{"language": "en", "title": "a", "text": "b"}] * 2}, 422),
        ("manager", {"texts": [{"language": "en", "title": " ", "text": "b"}]}, 422),
        ("manager", {"texts": [{"language": "en", "title": "a\x00b", "text": "b"}]}, 422),
        ("manager", {"texts": [{"language": "en", "title": "a" * 201, "text": "b"}]}, 422),
        ("manager", {"texts": [{"language": "en", "title": "a", "text": "b" * 5001}]}, 422),
        ("manager", {"pinned_until": "2001-01-01"}, 422),
        ("manager", {"pinned_until": "9999-12-31"}, 422),
        ("manager", {"urgent": 1}, 422),
        ("official", {"reach": "district", "targets": [], "district_id": 2**31 - 1}, 422),
        ("official", {"reach": "nowhere", "targets": []}, 422),
    ],
)
def test_wrong_input_is_a_clear_4xx_and_writes_nothing(client, city, session, who, change, status):
    ids = {"far": city.building_b.id, "own": city.building_a.id}
    if "targets" in change:
        targets = [
            t | {"building_id": ids.get(t["building_id"], t["building_id"])} for t in change["targets"]
        ]
        change = change | {"targets": targets}
    answer = client.post(URL, json=body(city, **change), headers=city.headers[who])

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"]
    assert count(session, Announcement) == 0 and count(session, Notification) == 0


def test_a_file_is_checked_stored_once_and_served_to_those_who_see_it(client, city, settings):
    posted = client.post(URL, json=body(city), headers=city.headers["manager"]).json()
    attach = f"{URL}/{posted['id']}/attachment"

    fake = client.post(
        attach,
        files={"file": ("notice.pdf", b"%PDF-1.4 not really", "application/pdf")},
        headers=city.headers["manager"],
    )
    assert fake.status_code == 415
    assert (
        client.post(
            attach,
            files={"file": ("a.pdf", pdf_bytes(), "application/pdf")},
            headers=city.headers["manager_b"],
        ).status_code
        == 404
    )
    assert (
        client.post(
            attach,
            files={"file": ("a.pdf", pdf_bytes(), "application/pdf")},
            headers=city.headers["resident"],
        ).status_code
        == 403
    )

    added = client.post(
        attach, files={"file": ("a.pdf", pdf_bytes(), "application/pdf")}, headers=city.headers["manager"]
    )
    assert added.status_code == 201, added.text
    assert added.json()["attachment_type"] == "application/pdf"
    again = client.post(
        attach, files={"file": ("p.png", png_bytes(), "image/png")}, headers=city.headers["manager"]
    )
    assert again.status_code == 409

    served = client.get(attach, headers=city.headers["resident"])
    assert served.status_code == 200 and served.content == pdf_bytes()
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"].startswith("attachment")
    assert client.get(attach, headers=city.headers["manager_b"]).status_code == 404
    assert len(list(settings.announcements.attachment_dir.iterdir())) == 1


def test_a_file_over_the_limit_is_refused(client, city, settings):
    settings.announcements.max_attachment_bytes = 2048
    posted = client.post(URL, json=body(city), headers=city.headers["manager"]).json()

    big = client.post(
        f"{URL}/{posted['id']}/attachment",
        files={"file": ("big.png", png_bytes((400, 400)) + b"\0" * 4096, "image/png")},
        headers=city.headers["manager"],
    )
    assert big.status_code == 413
    assert (
        client.get(f"{URL}/{posted['id']}", headers=city.headers["manager"]).json()["attachment_url"] is None
    )
