"""The announcement pages through plain HTTP, as a browser without JavaScript uses them: staff post
with the form, the resident's inbox shows it unread until opened, staff see it read."""

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from housing.announcements.models import Announcement
from housing.db import utcnow
from housing.i18n import LANGUAGE_COOKIE
from housing.notifications.models import Notification
from housing.notifications.service import notify
from tests.conftest import make_settings
from tests.factories.requests import png_bytes
from tests.pages import submit
from tests.unit.test_announcements import pdf_bytes

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, announcements={"attachment_dir": tmp_path / "files"})


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _count(app, model) -> int:
    with Session(app.state.engine) as fresh:
        return fresh.exec(select(func.count()).select_from(model)).one()


def _form(city, **kw) -> dict:
    return {
        "reach": "buildings",
        "building_ids": [str(city.building_a.id)],
        "title_en": "Water off on Friday",
        "text_en": f"From 10:00 to 14:00. {HOSTILE}",
    } | kw


def test_staff_post_the_resident_reads_and_the_unread_mark_goes_away(browser_of, city, app):
    manager, resident = browser_of("manager"), browser_of("resident")
    posted = submit(
        manager,
        "/console/announcements/new",
        "/console/announcements",
        _form(city, title_ru="Отключение воды", text_ru="С 10:00 до 14:00."),
        files={"attachment": ("plan.pdf", pdf_bytes(), "application/pdf")},
    )
    assert posted.status_code == 200, posted.text
    announcement_id = int(re.search(r"/console/announcements/(\d+)", str(posted.url)).group(1))
    assert "Posted. 1 resident was notified." in _text(posted.text)
    assert "&lt;script&gt;" in posted.text and "<script>alert" not in posted.text  # escaped, as typed
    assert "Read by 0 of 1 resident " in _text(posted.text)

    inbox = resident.get("/notices")
    assert "Unread: 1" in _text(inbox.text)
    assert 'class="card unread"' in inbox.text and "Water off on Friday" in inbox.text
    assert "<script>alert" not in inbox.text

    opened = resident.get(f"/notices/announcements/{announcement_id}")
    assert opened.status_code == 200
    assert "From 10:00 to 14:00." in opened.text and "Open the attached PDF" in opened.text
    assert "<script>alert" not in opened.text

    again = resident.get("/notices")
    assert "Unread: 0" in _text(again.text) and 'class="card unread"' not in again.text
    assert "Read by 1 of 1 resident " in _text(manager.get(f"/console/announcements/{announcement_id}").text)
    assert "Read by 1 of 1 resident " in _text(manager.get("/console/announcements").text)


def test_the_resident_reads_it_in_their_language(browser_of, city):
    manager, resident = browser_of("manager"), browser_of("resident")
    submit(
        manager,
        "/console/announcements/new",
        "/console/announcements",
        _form(city, title_ru="Отключение воды", text_ru="С 10:00."),
    )
    resident.cookies.set(LANGUAGE_COOKIE, "ru")

    assert "Отключение воды" in resident.get("/notices").text


def test_an_official_posts_to_the_city(browser_of, city):
    official, resident = browser_of("official"), browser_of("resident")
    form = {
        "reach": "city",
        "title_uz": "Isitish mavsumi",
        "text_uz": "15-noyabrdan boshlanadi.",
        "urgent": "1",
    }
    pin = (utcnow() + timedelta(days=5)).date().isoformat()
    posted = submit(
        official, "/console/announcements/new", "/console/announcements", form | {"pinned_until": pin}
    )
    assert posted.status_code == 200 and "The whole city" in posted.text

    inbox = _text(resident.get("/notices").text)
    assert "Isitish mavsumi" in inbox and "Pinned" in inbox and "Urgent" in inbox


@pytest.mark.parametrize(
    "who, change, field",
    [
        ("manager", {"title_en": "", "text_en": ""}, "texts"),
        ("manager", {"text_en": ""}, "text_en"),
        ("manager", {"building_ids": []}, "building_ids"),
        ("manager", {"building_ids": ["far"]}, "targets"),
        ("manager", {"entrances": "1, x"}, "entrances"),
        ("manager", {"entrances": "7"}, "targets"),
        ("manager", {"pinned_until": "yesterday"}, "pinned_until"),
        ("manager", {"pinned_until": "2001-01-01"}, "pinned_until"),
        ("manager", {"reach": "moon"}, "reach"),
        ("official", {"reach": "district", "district_id": "abc"}, "district_id"),
        ("official", {"reach": "buildings"}, "form"),
    ],
)
def test_a_wrong_form_says_why_beside_the_field_and_writes_nothing(browser_of, city, app, who, change, field):
    client = browser_of(who)
    if change.get("building_ids") == ["far"]:
        change = change | {"building_ids": [str(city.building_b.id)]}
    answer = submit(client, "/console/announcements/new", "/console/announcements", _form(city, **change))

    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text
    assert _count(app, Announcement) == 0 and _count(app, Notification) == 0


def test_a_file_that_is_not_an_image_or_a_pdf_is_refused(browser_of, city, app, settings):
    answer = submit(
        browser_of("manager"),
        "/console/announcements/new",
        "/console/announcements",
        _form(city),
        files={"attachment": ("plan.pdf", b"%PDF-1.4\n<html>not a pdf</html>", "application/pdf")},
    )

    assert answer.status_code == 422 and 'id="attachment-error"' in answer.text
    assert _count(app, Announcement) == 0
    assert not settings.announcements.attachment_dir.exists()


def test_a_notification_opens_its_page_and_is_read(browser_of, city, app, session):
    notify(
        session,
        user_ids=[city.users["resident"]],
        kind="request_status",
        params={"number": city.home_request.id, "status": "accepted"},
        link=f"/requests/{city.home_request.id}",
        now=utcnow(),
    )
    session.commit()
    mine = session.exec(select(Notification)).one()
    resident = browser_of("resident")

    inbox = resident.get("/notices")
    assert f"Request {city.home_request.id}: accepted" in inbox.text and "Unread: 1" in _text(inbox.text)
    opened = resident.get(f"/notices/{mine.id}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/requests/{city.home_request.id}"
    assert "Unread: 0" in _text(resident.get("/notices").text)
    assert browser_of("manager").get(f"/notices/{mine.id}").status_code == 403


def test_someone_elses_announcement_or_notification_is_not_found(browser_of, city, session):
    manager_b = browser_of("manager_b")
    submit(
        manager_b,
        "/console/announcements/new",
        "/console/announcements",
        _form(city, building_ids=[str(city.building_b.id)]),
    )
    theirs = session.exec(select(Announcement)).one()
    notify(session, user_ids=[city.users["official"]], kind="payment_received", params={}, now=utcnow())
    session.commit()
    other = session.exec(select(Notification)).all()[-1]
    resident = browser_of("resident")

    assert resident.get(f"/notices/announcements/{theirs.id}").status_code == 404
    assert resident.get(f"/notices/{other.id}").status_code == 404
    assert browser_of("manager").get(f"/console/announcements/{theirs.id}").status_code == 404
    assert resident.get("/console/announcements").status_code == 403


def test_the_console_form_picture_upload_is_shown_as_a_picture(browser_of, city):
    manager = browser_of("manager")
    posted = submit(
        manager,
        "/console/announcements/new",
        "/console/announcements",
        _form(city),
        files={"attachment": ("p.png", png_bytes(), "image/png")},
    )
    announcement_id = int(re.search(r"/console/announcements/(\d+)", str(posted.url)).group(1))
    page = browser_of("resident").get(f"/notices/announcements/{announcement_id}")
    assert "Open the attached picture" in page.text
    assert f'<img class="attachment" src="/api/v1/announcements/{announcement_id}/attachment"' in page.text
