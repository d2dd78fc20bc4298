"""The resident's request pages through plain HTTP, as a browser without JavaScript uses them."""

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from housing.db import utcnow
from housing.i18n import LANGUAGE_COOKIE
from housing.incidents.models import Utility
from housing.incidents.service import plan_outage
from housing.requests import service
from housing.requests.models import RequestComment, RequestPhoto, RequestStatus, ServiceRequest
from tests.conftest import make_settings
from tests.factories.core import PASSWORD
from tests.factories.requests import move, png_bytes
from tests.factories.scores import add_incident
from tests.pages import csrf_token, log_in, submit


@pytest.fixture
def settings(database_url, tmp_path):
    """Photos go to a scratch folder; two requests a day per resident, so the limit is quick to reach."""
    return make_settings(database_url, requests={"photo_dir": tmp_path / "photos", "daily_limit": 2})


@pytest.fixture
def resident(client, city):
    answer = log_in(client, "resident", PASSWORD)
    assert answer.status_code == 200, answer.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]*)', html)
    assert found, f"no message next to {field}"
    return found.group(1).strip()


def _count(app, model, *where) -> int:
    with Session(app.state.engine) as fresh:
        return fresh.exec(select(func.count()).select_from(model).where(*where)).one()


def test_a_resident_files_a_request_with_a_photo_and_follows_it(resident, city, app):
    answer = submit(
        resident,
        "/requests/new",
        "/requests",
        {
            "place": f"apartment:{city.home.id}",
            "category_id": str(city.category.id),
            "description": "The bathroom ceiling drips onto the floor",
        },
        files={"photo": ("leak.png", png_bytes(), "image/png")},
    )

    assert answer.status_code == 200, answer.text
    request_id = int(re.search(r"/requests/(\d+)", str(answer.url)).group(1))
    text = _text(answer.text)
    assert "Your request is filed." in text
    assert f"Request No. {request_id}" in text and "Roof leak" in text
    assert "The bathroom ceiling drips onto the floor" in text
    assert f"apt. {city.home.number}" in text
    assert f'src="/api/v1/requests/{request_id}/photos/' in answer.text
    assert _count(app, RequestPhoto, RequestPhoto.request_id == request_id) == 1
    # Filed at some time today in Tashkent: the history shows it on the city's clock (UTC+5).
    with Session(app.state.engine) as fresh:
        filed_at = fresh.get(ServiceRequest, request_id).created_at
    local = filed_at + timedelta(hours=5)
    assert f"{local:%-I}:{local:%M}" in _text(answer.text.split('id="history"', 1)[1])
    listing = resident.get("/requests")
    assert f'href="/requests/{request_id}"' in listing.text
    card = listing.text.split(f'id="request-{request_id}"', 1)[1].split("</li>", 1)[0]
    assert '<span class="status status-new">new</span>' in card


def test_the_filing_form_explains_each_mistake_next_to_its_field(resident, city, app):
    before = _count(app, ServiceRequest)

    answer = submit(
        resident,
        "/requests/new",
        "/requests",
        {"place": f"apartment:{city.far_away.id}", "category_id": "", "description": "hm"},
        files={"photo": ("notes.png", b"%PDF-1.4 not a picture", "image/png")},
    )

    assert answer.status_code == 422
    assert "Choose the apartment, or the building" in _error(answer.text, "place")
    assert "Choose what the problem is about." in _error(answer.text, "category_id")
    assert "at least 5 letters" in _error(answer.text, "description")
    assert "JPEG, PNG or WebP" in _error(answer.text, "photo")
    assert 'aria-describedby="description-error"' in answer.text
    assert ">hm</textarea>" in answer.text  # what was typed stays
    assert _count(app, ServiceRequest) == before


def test_the_daily_limit_and_a_repeated_request_are_explained(resident, city, app):
    page = resident.get("/requests/new")
    assert "You may file up to 2 requests a day; you have filed 1 today." in _text(page.text)
    form = {"place": f"building:{city.building_a.id}", "category_id": str(city.category.id)}

    first = submit(
        resident, "/requests/new", "/requests", form | {"description": "The entrance light is out"}
    )
    again = submit(
        resident, "/requests/new", "/requests", form | {"description": "The entrance  light is out"}
    )
    third = submit(resident, "/requests/new", "/requests", form | {"description": "The lift is stuck"})

    assert first.status_code == 200 and "(common area)" in first.text
    assert again.status_code == 422
    duplicate = _error(again.text, "form")
    assert "You already filed the same request today" in duplicate
    assert third.status_code == 422
    assert "You have filed 2 requests today, the most one resident may file in a day." in _error(
        third.text, "form"
    )
    assert _count(app, ServiceRequest, ServiceRequest.requester_person_id == city.resident_person_id) == 2


def test_the_resident_rates_a_resolved_request_once(resident, city, session, app):
    move(session, city.home_request, RequestStatus.accepted, RequestStatus.resolved, now=utcnow())
    session.commit()
    url = f"/requests/{city.home_request.id}"

    no_mark = submit(resident, url, f"{url}/rating", {"comment": "ok"})
    rated = submit(resident, url, f"{url}/rating", {"rating": "4", "comment": "Fixed the same day"})

    assert no_mark.status_code == 422 and "Choose a mark from 1 to 5." in _error(no_mark.text, "rating")
    assert "Thank you for your rating." in rated.text
    assert "4 of 5" in _text(rated.text) and "Fixed the same day" in rated.text
    assert 'action="' + url + '/rating"' not in rated.text  # rated once: the form is gone
    token = csrf_token(rated.text)
    twice = resident.post(f"{url}/rating", data={"rating": "1", "csrftoken": token})
    assert twice.status_code == 422 and "You have already rated this request" in _error(twice.text, "rating")
    with Session(app.state.engine) as fresh:
        assert fresh.get(ServiceRequest, city.home_request.id).rating == 4


def test_reopening_needs_a_reason_and_the_window(resident, city, session, app):
    move(session, city.home_request, RequestStatus.accepted, RequestStatus.resolved, now=utcnow())
    session.commit()
    url = f"/requests/{city.home_request.id}"
    page = resident.get(url)
    assert "You can reopen the request until" in page.text

    without = submit(resident, url, f"{url}/reopen", {"reason": " "})
    reopened = submit(resident, url, f"{url}/reopen", {"reason": "It drips again"})

    assert without.status_code == 422 and _error(without.text, "reopen") == "Say what is still wrong."
    assert "The request is reopened" in reopened.text
    assert "It drips again" in _text(reopened.text.split('id="history"', 1)[1])
    assert "reopened" in _text(reopened.text)


def test_reopening_after_seven_days_is_refused(resident, city, session):
    move(
        session,
        city.home_request,
        RequestStatus.accepted,
        RequestStatus.resolved,
        now=utcnow() - timedelta(days=8),
    )
    session.commit()
    url = f"/requests/{city.home_request.id}"
    page = resident.get(url)
    assert 'action="' + url + '/reopen"' not in page.text

    late = resident.post(f"{url}/reopen", data={"reason": "Still wet", "csrftoken": csrf_token(page.text)})

    assert late.status_code == 422
    assert "within 7 days of its resolution" in _error(late.text, "reopen")


def test_the_resident_reads_comments_meant_for_them_only(resident, city, session, app):
    for body, internal in (("Roofer booked", False), ("Tenant is rude", True)):
        service.add_comment(
            session,
            city.home_request,
            author_id=city.users["dispatcher"],
            body=body,
            internal=internal,
            now=utcnow(),
        )
    session.commit()
    url = f"/requests/{city.home_request.id}"

    page = resident.get(url)
    answer = submit(resident, url, f"{url}/comments", {"body": "I am home after 18:00", "for_resident": "1"})

    assert "Roofer booked" in page.text and "Tenant is rude" not in page.text
    assert "the management company" in page.text and "dispatcher" not in _text(
        page.text.split('id="comments"')[1]
    )
    assert "The comment is added." in answer.text and "I am home after 18:00" in answer.text
    with Session(app.state.engine) as fresh:
        mine = fresh.exec(select(RequestComment).where(RequestComment.body == "I am home after 18:00")).one()
    assert mine.internal is False


def test_someone_elses_request_is_not_found_and_forms_need_their_token(resident, city, session, app):
    from tests.factories.requests import make_request

    theirs = make_request(
        session, _user(session, city.users["manager"]), city.far_away, city.category, now=utcnow()
    )
    session.commit()

    assert resident.get(f"/requests/{theirs.id}").status_code == 404
    forged = resident.post(
        f"/requests/{city.home_request.id}/comments", data={"body": "forged", "csrftoken": "forged"}
    )
    assert forged.status_code == 403 and "The form has expired" in forged.text
    assert _count(app, RequestComment, RequestComment.body == "forged") == 0
    assert resident.get("/console/requests").status_code == 403
    assert resident.get("/console/debtors").status_code == 403


def test_notices_list_current_and_upcoming_outages_of_my_building_only(resident, city, session):
    now = utcnow()

    def outage(building, utility, starts_at, ends_at, manager, declared_at=now, detail=""):
        plan_outage(
            session,
            building_id=building.id,
            utility=utility,
            starts_at=starts_at,
            ends_at=ends_at,
            declared_by_id=city.users[manager],
            now=declared_at,
            detail=detail,
        )

    day = timedelta(days=1)
    outage(
        city.building_a,
        Utility.hot_water,
        now + 2 * day,
        now + 3 * day,
        "manager",
        detail="Yearly maintenance of the hot-water mains",
    )
    add_incident(
        session,
        city.building_a,
        utility=Utility.heating,
        origin="sensor:T-1",
        started=now - timedelta(hours=3),
        ended=None,
    )
    outage(
        city.building_a, Utility.gas, now - 3 * day, now - 2 * day, "manager", now - 4 * day
    )  # over already
    outage(
        city.building_b, Utility.cold_water, now + day, now + 2 * day, "manager_b"
    )  # someone else's building
    session.commit()

    page = resident.get("/notices").text
    # The outages part lists what goes on now or comes up; the inbox below it keeps the notices
    # the resident got when each outage was declared (the gas one, four days ago, included).
    outages = _text(page[: page.index('id="inbox"')])

    assert "Heating" in outages and "Now" in outages and "until it is fixed" in outages
    assert "Hot water" in outages and "Coming up" in outages and "Yearly maintenance" in outages
    assert "Gas" not in outages and "Cold water" not in _text(page)
    assert outages.index("Heating") < outages.index("Hot water")
    assert "Planned outage: Gas" in _text(page[page.index('id="inbox"') :])


def test_the_pages_speak_uzbek(resident, city):
    resident.cookies.set(LANGUAGE_COOKIE, "uz")
    page = resident.get(f"/requests/{city.home_request.id}")

    assert '<html lang="uz">' in page.text
    assert "Mening murojaatlarim" in page.text  # "My requests" in the navigation
    assert "Tarix" in page.text  # "History"


def _user(session, user_id):
    from housing.accounts.models import User

    return session.get(User, user_id)


def test_a_form_with_a_photo_needs_its_token_first(resident, city, app):
    form = {
        "place": f"apartment:{city.home.id}",
        "category_id": str(city.category.id),
        "description": "Forged from another site",
    }
    photo = {"photo": ("leak.png", png_bytes(), "image/png")}
    token = csrf_token(resident.get("/requests/new").text)

    without = resident.post("/requests", data=form, files=photo)
    forged = resident.post("/requests", data=form | {"csrftoken": "forged"}, files=photo)
    # The token after the file: refused before the upload is read, as asgi-csrf asks.
    late = resident.post(
        "/requests",
        content=_multipart([("photo", png_bytes()), ("csrftoken", token.encode())]),
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )

    assert [without.status_code, forged.status_code, late.status_code] == [403, 403, 403]
    assert "The form has expired" in without.text
    assert _count(app, ServiceRequest, ServiceRequest.description == "Forged from another site") == 0


def _multipart(parts: list[tuple[str, bytes]]) -> bytes:
    body = b""
    for name, value in parts:
        filename = b'; filename="leak.png"' if name == "photo" else b""
        body += (
            b'--XyZ\r\nContent-Disposition: form-data; name="' + name.encode() + b'"' + filename + b"\r\n\r\n"
        )
        body += value + b"\r\n"
    return body + b"--XyZ--\r\n"


def test_an_api_client_with_a_bearer_token_uploads_a_photo_despite_cookies(resident, city):
    headers = city.headers["resident"]
    assert resident.cookies  # the browser's session and CSRF cookies ride along

    answer = resident.post(
        f"/api/v1/requests/{city.home_request.id}/photos",
        files={"photo": ("leak.png", png_bytes(), "image/png")},
        headers=headers,
    )

    assert answer.status_code == 201, answer.text
