"""Owners' meetings through plain HTTP, as a browser without JavaScript uses them: the manager
drafts, adds questions and a document, publishes; the owner reads the agenda, votes and gets a
receipt; staff enter a paper ballot and decide a proxy; the close shows the results and the
register. Refusals come back as the page with the reason and a 4xx, never a half-written ballot."""

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from housing.accounts.models import Role
from housing.meetings.models import Ballot, Meeting, MeetingQuestion, MeetingStatus
from tests.conftest import make_settings
from tests.factories.core import make_apartment, make_owner, make_user
from tests.factories.requests import make_resident, png_bytes
from tests.pages import csrf_token, submit
from tests.unit.test_announcements import pdf_bytes

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
DRAFTED = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
VOTING = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # within the first to the last day below
AFTER = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 01:00 on 1 December in Tashkent
FIRST_DAY, LAST_DAY = "2026-11-18", "2026-11-30"


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, meetings={"document_dir": tmp_path / "files"})


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def _count(app, model) -> int:
    with Session(app.state.engine) as fresh:
        return fresh.exec(select(func.count()).select_from(model)).one()


def _post(client: TestClient, page_url: str, action: str, data: dict, **kw):
    """Posts a form of `page_url` without following the redirect."""
    return submit(client, page_url, action, data, follow_redirects=False, **kw)


def _draft(manager: TestClient, city, **kw) -> int:
    answer = _post(
        manager,
        "/console/meetings/new",
        "/console/meetings",
        {
            "building_id": str(city.building_a.id),
            "title_en": f"General meeting {HOSTILE}",
            "text_en": "The owners decide on the fee and the roof.",
            "title_uz": "Umumiy yig'ilish",
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
        }
        | kw,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("?done=drafted")
    return int(re.search(r"/console/meetings/(\d+)", answer.headers["location"]).group(1))


def _question(manager: TestClient, meeting_id: int, **fields):
    url = f"/console/meetings/{meeting_id}"
    return _post(manager, url, f"{url}/questions", fields)


def _published_meeting(manager: TestClient, city) -> int:
    meeting_id = _draft(manager, city)
    assert _question(manager, meeting_id, kind="ordinary", q_title_en="Repair the roof?").status_code == 303
    fee = _question(
        manager,
        meeting_id,
        kind="management_fee",
        q_title_en="A fee of 2,000 so'm per m²?",
        q_title_uz="Badal 2000 so'm?",
        fee="2000",
        effective_from="2027-01-01",
    )
    assert fee.status_code == 303, fee.text
    url = f"/console/meetings/{meeting_id}"
    assert _post(manager, url, f"{url}/publish", {}).status_code == 303
    return meeting_id


def _vote_form(html: str, voter_id: int) -> dict[str, str]:
    """The vote form's fields of one roll entry's section, every question marked "for"."""
    section = re.search(rf'id="voter-{voter_id}".*?</form>', html, re.S).group(0)
    questions = sorted(set(re.findall(r'name="(q\d+)"', section)))
    return {"voter_id": str(voter_id)} | dict.fromkeys(questions, "for")


def _voter_ids(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'name="voter_id" value="(\d+)"', html)]


def test_a_meeting_from_draft_to_results(browser_of, city, app, session, frozen_clock):
    frozen_clock.set(DRAFTED)
    manager, resident = browser_of("manager"), browser_of("resident")
    meeting_id = _draft(manager, city)
    drafted = manager.get(f"/console/meetings/{meeting_id}?done=drafted")  # where the form leads
    assert "The draft is saved. Add the questions, then publish it." in _text(drafted.text)
    assert "Draft" in _text(drafted.text) and "Umumiy yig'ilish" in _text(drafted.text)
    assert "&lt;script&gt;" in drafted.text and "<script>alert" not in drafted.text
    assert resident.get(f"/meetings/{meeting_id}").status_code == 404  # a draft is the staff's

    url = f"/console/meetings/{meeting_id}"
    assert _question(manager, meeting_id, kind="ordinary", q_title_en="Repair the roof?").status_code == 303
    company = _question(
        manager,
        meeting_id,
        kind="management_company",
        q_title_en="Change to Chilonzor Uy-Joy?",
        company_id=str(city.company_b.id),
        effective_from="2027-01-01",
    )
    assert company.status_code == 303, company.text
    attached = _post(
        manager,
        url,
        f"{url}/documents",
        {"title": "The proposed contract", "question_id": ""},
        files={"file": ("contract.pdf", pdf_bytes(), "application/pdf")},
    )
    assert attached.status_code == 303, attached.text
    page = manager.get(url)
    assert "Change to Chilonzor Uy-Joy?" in page.text and "Proposed company: Chilonzor Uy-Joy" in page.text
    document_link = re.search(rf'href="({url}/documents/\d+)"', page.text).group(1)
    assert manager.get(document_link).content == pdf_bytes()

    published = _post(manager, url, f"{url}/publish", {})
    assert published.status_code == 303
    page = manager.get(published.headers["location"])
    assert "Published: every owner of the building was notified." in _text(page.text)
    assert "Add a question" not in page.text  # the agenda is fixed now

    # The owner reads the agenda during the notice: no vote form yet.
    listing = resident.get("/meetings")
    assert f'href="/meetings/{meeting_id}"' in listing.text
    assert "Announced: voting has not started" in _text(listing.text)
    agenda = resident.get(f"/meetings/{meeting_id}")
    assert "Repair the roof?" in agenda.text and "The proposed contract" in agenda.text
    assert "Voting from November 18, 2026 to November 30, 2026 inclusive" in _text(agenda.text)
    assert 'action="/meetings/' + str(meeting_id) + '/ballots"' not in agenda.text
    resident_link = re.search(rf'href="(/meetings/{meeting_id}/documents/\d+)"', agenda.text).group(1)
    assert resident.get(resident_link).content == pdf_bytes()

    frozen_clock.set(VOTING)
    agenda = resident.get(f"/meetings/{meeting_id}")
    assert "Voting now" in _text(agenda.text)
    assert "Voted so far: 0.00 m² of 108.60 m² (0.00%)" in _text(agenda.text)
    (voter_id,) = _voter_ids(agenda.text)
    assert "Apartment 1" in _text(agenda.text) or city.home.number in agenda.text
    cast = resident.post(
        f"/meetings/{meeting_id}/ballots",
        data={"csrftoken": csrf_token(agenda.text), **_vote_form(agenda.text, voter_id)},
        follow_redirects=False,
    )
    assert cast.status_code == 303, cast.text
    receipt_page = resident.get(cast.headers["location"])
    assert "Your ballot was accepted." in _text(receipt_page.text)
    code = re.search(r"code=([0-9a-f]{16})", cast.headers["location"]).group(1)
    assert code in receipt_page.text and "Repair the roof?: For" in _text(receipt_page.text)

    # A second ballot for the same share is refused, with why; still one ballot.
    again = resident.post(
        f"/meetings/{meeting_id}/ballots",
        data={"csrftoken": csrf_token(agenda.text), **_vote_form(agenda.text, voter_id)},
        follow_redirects=False,
    )
    assert again.status_code == 409
    assert f"This share has voted already (receipt {code}," in _text(again.text)
    assert _count(app, Ballot) == 1
    after = resident.get(f"/meetings/{meeting_id}")
    assert "Voted." in _text(after.text) and code in after.text
    assert "Voted so far: 54.30 m² of 108.60 m² (50.00%)" in _text(after.text)
    assert "Quorum not reached yet." in _text(after.text)  # exactly a half is not more than a half

    # Staff enter the neighbour's paper ballot with its scan.
    page = manager.get(url)
    neighbour_voter = int(re.search(r'<option value="(\d+)"[^>]*>Apartment 2', page.text).group(1))
    questions = sorted(set(re.findall(r'name="(q\d+)"', page.text)))
    paper = _post(
        manager,
        url,
        f"{url}/paper-ballots",
        {"voter_id": str(neighbour_voter)} | dict.fromkeys(questions, "against"),
        files={"scan": ("ballot.png", png_bytes(), "image/png")},
    )
    assert paper.status_code == 303, paper.text
    assert "The paper ballot is entered." in _text(manager.get(paper.headers["location"]).text)
    assert _count(app, Ballot) == 2

    # The close: the results, the register and the receipt in it.
    frozen_clock.set(AFTER)
    late = resident.post(
        f"/meetings/{meeting_id}/ballots",
        data={"csrftoken": csrf_token(agenda.text), **_vote_form(agenda.text, voter_id)},
    )
    assert late.status_code == 409 and "Voting is over: it closed" in _text(late.text)
    closed = _post(manager, url, f"{url}/close", {})
    assert closed.status_code == 303, closed.text
    page = _text(manager.get(closed.headers["location"]).text)
    assert "The meeting is closed and counted" in page
    assert "manager Paper ballot entered" in page and "resident Ballot online" in page  # the event log
    assert "Quorum reached." in page
    results = _text(resident.get(f"/meetings/{meeting_id}").text)
    assert "1. Repair the roof? — Rejected" in results  # 54.30 for, 54.30 against: not a majority
    assert "Change to Chilonzor Uy-Joy? — Rejected" in results  # needs more than half of all votes
    assert "Against 54.30 50.00% 50.00%" in results
    assert code in results and "Paper ballot" in results
    lookup = resident.get(f"/meetings/{meeting_id}/receipt", params={"code": code.upper()})
    assert lookup.status_code == 200 and "Repair the roof?: For" in _text(lookup.text)

    # A tenant of the building reads the results, not the register, the receipts or the protocol.
    tenant_user = make_resident(session, city.home, owner=False)
    session.commit()
    tenant = browser_of(tenant_user.username)
    seen = _text(tenant.get(f"/meetings/{meeting_id}").text)
    assert "1. Repair the roof? — Rejected" in seen
    assert code not in seen and "Register of ballots" not in seen
    assert tenant.get(f"/meetings/{meeting_id}/receipt", params={"code": code}).status_code == 403
    assert tenant.get(f"/meetings/{meeting_id}/protocol.pdf").status_code == 403


def test_the_refusals_say_why_and_write_nothing(browser_of, city, app, frozen_clock):
    frozen_clock.set(DRAFTED)
    manager, resident = browser_of("manager"), browser_of("resident")

    empty = _post(
        manager, "/console/meetings/new", "/console/meetings", {"first_day": "x", "building_id": "0"}
    )
    assert empty.status_code == 422
    assert "Choose a building." in empty.text and "Choose the first and the last day of voting." in empty.text
    backwards = _post(
        manager,
        "/console/meetings/new",
        "/console/meetings",
        {
            "building_id": str(city.building_a.id),
            "title_en": "Backwards",
            "first_day": LAST_DAY,
            "last_day": FIRST_DAY,
        },
    )
    assert (
        backwards.status_code == 422
        and "The last day of voting cannot be before the first." in backwards.text
    )
    foreign = _post(
        manager,
        "/console/meetings/new",
        "/console/meetings",
        {
            "building_id": str(city.building_b.id),
            "title_en": "Not ours",
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
        },
    )
    assert 400 <= foreign.status_code < 500
    assert _count(app, Meeting) == 0

    too_soon = _draft(manager, city, first_day="2026-11-05", last_day="2026-11-12")
    soon_url = f"/console/meetings/{too_soon}"
    assert _question(manager, too_soon, kind="ordinary", q_title_en="Roof?").status_code == 303
    refused = _post(manager, soon_url, f"{soon_url}/publish", {})
    assert 400 <= refused.status_code < 500 and 'id="publish-error"' in refused.text  # 14 days' notice
    assert "Published" not in _text(refused.text)

    meeting_id = _draft(manager, city)
    url = f"/console/meetings/{meeting_id}"
    nothing = _post(manager, url, f"{url}/publish", {})
    assert 400 <= nothing.status_code < 500 and 'id="publish-error"' in nothing.text  # no questions yet
    fee = _question(manager, meeting_id, kind="management_fee", q_title_en="Fee?", fee="-5")
    assert fee.status_code == 422 and "so'm per m²" in _text(fee.text)
    assert (
        'name="title_en" maxlength="200" value="General meeting' in fee.text
    )  # the edit form keeps the texts
    assert 'name="fee" inputmode="decimal" value="-5"' in fee.text  # and the refused form what was typed
    kind = _question(manager, meeting_id, kind="coup", q_title_en="Take over?")
    assert kind.status_code == 422 and "Choose the kind of decision." in kind.text
    no_company = _question(manager, meeting_id, kind="management_company", q_title_en="Change?")
    assert 400 <= no_company.status_code < 500 and 'id="question-error"' in no_company.text
    not_a_file = _post(
        manager,
        url,
        f"{url}/documents",
        {"title": "Script"},
        files={"file": ("x.pdf", b"#!/bin/sh", "application/pdf")},
    )
    assert 400 <= not_a_file.status_code < 500 and 'id="document-error"' in not_a_file.text
    assert _count(app, MeetingQuestion) == 1  # the too-soon meeting's only
    with Session(app.state.engine) as fresh:
        assert fresh.get(Meeting, meeting_id).status == MeetingStatus.draft
        assert fresh.get(Meeting, too_soon).status == MeetingStatus.draft

    assert _question(manager, meeting_id, kind="ordinary", q_title_en="Roof?").status_code == 303
    assert _post(manager, url, f"{url}/publish", {}).status_code == 303
    frozen_clock.set(VOTING)
    agenda = resident.get(f"/meetings/{meeting_id}")
    (voter_id,) = _voter_ids(agenda.text)
    token = csrf_token(agenda.text)
    half = resident.post(
        f"/meetings/{meeting_id}/ballots", data={"csrftoken": token, "voter_id": str(voter_id)}
    )
    assert half.status_code == 422 and "Choose for, against or abstain on each question." in half.text
    absurd = resident.post(
        f"/meetings/{meeting_id}/ballots",
        data={
            "csrftoken": token,
            "voter_id": "99999999999999",
            **dict.fromkeys(_vote_form(agenda.text, voter_id), "maybe"),
        },
    )
    assert absurd.status_code == 422
    theirs = _vote_form(agenda.text, voter_id)
    other = _post(
        manager,
        url,
        f"{url}/paper-ballots",
        {"voter_id": str(voter_id)} | {k: "for" for k in theirs if k != "voter_id"},
    )
    assert other.status_code == 422 and "Attach the scan" in other.text  # no scan, no paper ballot
    assert _count(app, Ballot) == 0
    bad_receipt = resident.get(f"/meetings/{meeting_id}/receipt", params={"code": "<b>nope</b>"})
    assert bad_receipt.status_code == 422 and "<b>nope" not in bad_receipt.text
    unknown = resident.get(f"/meetings/{meeting_id}/receipt", params={"code": "0" * 16})
    assert unknown.status_code == 404 and "No ballot of this meeting has this receipt." in unknown.text


def test_who_sees_what(browser_of, city, app, session, frozen_clock):
    frozen_clock.set(DRAFTED)
    meeting_id = _published_meeting(browser_of("manager"), city)
    far_owner = make_owner(session, make_apartment(session, city.building_b))
    make_user(session, Role.resident, username="far_owner", person_id=far_owner.id)
    session.commit()
    assert browser_of("manager_b").get(f"/console/meetings/{meeting_id}").status_code == 404
    assert browser_of("far_owner").get(f"/meetings/{meeting_id}").status_code == 404
    assert f"/meetings/{meeting_id}" not in browser_of("far_owner").get("/meetings").text
    official = browser_of("official").get(f"/console/meetings/{meeting_id}")
    assert official.status_code == 200 and "Repair the roof?" in official.text
    assert "Publish and notify" not in official.text and "Upload a power of attorney" not in official.text
    frozen_clock.set(VOTING)
    resident = browser_of("resident")
    assert len(_voter_ids(resident.get(f"/meetings/{meeting_id}").text)) == 1
    assert resident.get("/meetings/999999").status_code == 404
    assert resident.get(f"/console/meetings/{meeting_id}").status_code in (403, 404)
    assert browser_of("manager").get("/meetings").status_code in (403, 404)  # the owners' pages


def test_a_proxy_votes_instead_of_the_owner(browser_of, city, app, session, frozen_clock):
    frozen_clock.set(DRAFTED)
    manager = browser_of("manager")
    meeting_id = _published_meeting(manager, city)
    make_user(session, Role.resident, username="neighbour", person_id=city.neighbour_person_id)
    session.commit()
    url = f"/console/meetings/{meeting_id}"
    page = manager.get(url)
    home_voter = re.search(r'<option value="(\d+)"[^>]*>Apartment 1:', page.text).group(1)
    upload = {"voter_id": home_voter, "proxy": str(city.neighbour_person_id)}
    unknown = _post(
        manager,
        url,
        f"{url}/proxies",
        upload | {"proxy": "99999999"},
        files={"document": ("p.pdf", pdf_bytes(), "application/pdf")},
    )
    assert unknown.status_code == 422 and "PINFL" in unknown.text
    uploaded = _post(
        manager, url, f"{url}/proxies", upload, files={"document": ("p.pdf", pdf_bytes(), "application/pdf")}
    )
    assert uploaded.status_code == 303, uploaded.text
    page = manager.get(uploaded.headers["location"])
    proxy_id = re.search(r'id="proxy-(\d+)"', page.text).group(1)
    assert "Waiting for a decision" in page.text
    assert manager.get(f"{url}/proxies/{proxy_id}/document").content == pdf_bytes()
    no_reason = _post(manager, url, f"{url}/proxies/{proxy_id}", {"decision": "reject"})
    assert no_reason.status_code == 422 and "Write why it is rejected" in no_reason.text
    accepted = _post(manager, url, f"{url}/proxies/{proxy_id}", {"decision": "accept"})
    assert accepted.status_code == 303, accepted.text
    assert "The power of attorney is accepted" in _text(manager.get(accepted.headers["location"]).text)

    frozen_clock.set(VOTING)
    owner = browser_of("resident").get(f"/meetings/{meeting_id}")
    assert _voter_ids(owner.text) == [] and "You have no vote in this meeting" in _text(owner.text)
    neighbour = browser_of("neighbour")
    agenda = neighbour.get(f"/meetings/{meeting_id}")
    assert len(_voter_ids(agenda.text)) == 2 and "You vote as the owner's proxy." in agenda.text
    cast = neighbour.post(
        f"/meetings/{meeting_id}/ballots",
        data={"csrftoken": csrf_token(agenda.text), **_vote_form(agenda.text, int(home_voter))},
        follow_redirects=False,
    )
    assert cast.status_code == 303, cast.text
    receipt_page = _text(neighbour.get(cast.headers["location"]).text)
    assert "Apartment 1" in receipt_page and "by proxy" in receipt_page


def test_owners_sign_an_initiative(browser_of, city, app, session, frozen_clock):
    from housing.accounts.models import User
    from housing.actors import Actor
    from housing.meetings import drafting

    frozen_clock.set(DRAFTED)
    owner = Actor.of(session.get(User, city.users["resident"]))
    meeting = drafting.draft_meeting(
        session,
        owner,
        building_id=city.building_a.id,
        texts={"en": ("Owners call a meeting", "")},
        voting_starts=datetime(2026, 12, 1, tzinfo=UTC),
        voting_ends=datetime(2026, 12, 11, tzinfo=UTC),
        now=DRAFTED,
    )
    session.commit()
    resident = browser_of("resident")
    page = resident.get(f"/meetings/{meeting.id}")
    assert "Signed by owners holding 0.00 m² of 108.60 m² (0.00%); 10.00% is needed" in _text(page.text)
    url = f"/meetings/{meeting.id}"
    signed = _post(resident, url, f"{url}/sign", {})
    assert signed.status_code == 303
    page = _text(resident.get(signed.headers["location"]).text)
    assert "You signed the initiative." in page and "54.30 m² of 108.60 m² (50.00%)" in page
    again = _post(resident, url, f"{url}/sign", {})
    assert again.status_code == 409 and "already signed" in again.text
    # The building's managers see the initiative but do not run it; an admin may.
    console = f"/console/meetings/{meeting.id}"
    seen = browser_of("manager").get(console)
    assert seen.status_code == 200 and "Owners call a meeting" in seen.text
    assert "Add a question" not in seen.text and "Publish and notify" not in seen.text
    assert "Add a question" in browser_of("admin").get(console).text


def test_absurd_input_is_a_4xx_never_a_5xx(browser_of, city, app, frozen_clock):
    frozen_clock.set(DRAFTED)
    manager = browser_of("manager")
    meeting_id = _published_meeting(manager, city)
    frozen_clock.set(VOTING)
    resident = browser_of("resident")
    url, console = f"/meetings/{meeting_id}", f"/console/meetings/{meeting_id}"
    token = csrf_token(resident.get(url).text)
    staff_token = csrf_token(manager.get(console).text)
    huge = "9" * 40
    gets = [
        (resident, "/meetings/abc"),
        (resident, f"/meetings/{huge}"),
        (resident, "/meetings?page=-1"),
        (resident, f"{url}/documents/0"),
        (resident, f"{url}/documents/{huge}"),
        (resident, f"{url}/protocol.pdf"),  # before the close
        (resident, f"{url}/protocol.pdf?language=klingon"),
        (resident, f"{url}/receipt?code=" + "z" * 5000),
        (manager, f"{console}/proxies/{huge}/document"),
        (manager, f"{console}/ballots/0/scan"),
        (manager, f"{console}/ballots/1/scan"),
        (manager, f"{console}/documents/7"),
        (manager, f"{console}/protocol.pdf?language=uz"),
    ]
    for client, path in gets:
        answer = client.get(path)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
    posts = [
        (resident, f"{url}/ballots", {"voter_id": huge, "q1": "for"}),
        (resident, f"{url}/ballots", {"voter_id": "-1"}),
        (resident, f"{url}/ballots", {"voter_id": "1", "q1": "x" * 10_000}),
        (resident, f"{url}/sign", {}),  # not an initiative
        (
            manager,
            "/console/meetings",
            {"building_id": huge, "first_day": "0000-00-00", "last_day": "9999-99-99"},
        ),
        (manager, f"{console}/texts", {"title_en": "x" * 300, "first_day": FIRST_DAY, "last_day": LAST_DAY}),
        (manager, f"{console}/questions", {"kind": "ordinary", "q_title_en": "Late?"}),  # published already
        (manager, f"{console}/questions", {"kind": "management_fee", "q_title_en": "F", "fee": "NaN"}),
        (manager, f"{console}/questions", {"kind": "management_fee", "q_title_en": "F", "fee": "1e400"}),
        (
            manager,
            f"{console}/questions",
            {"kind": "ordinary", "q_title_en": "F", "effective_from": "31.02.2027"},
        ),
        (manager, f"{console}/questions/{huge}/remove", {}),
        (manager, f"{console}/paper-ballots", {"voter_id": "abc", "q1": "for"}),
        (manager, f"{console}/proxies", {"voter_id": "1", "proxy": "¹²³"}),
        (manager, f"{console}/proxies/1", {"decision": "maybe"}),
        (manager, f"{console}/cancel", {"reason": ""}),
        (manager, f"{console}/cancel", {"reason": "too late"}),  # voting has started
        (manager, f"{console}/close", {}),  # voting runs
        (manager, f"{console}/publish", {}),  # published already
    ]
    for client, path, data in posts:
        answer = client.post(path, data={"csrftoken": token if client is resident else staff_token, **data})
        assert 400 <= answer.status_code < 500, (path, data, answer.status_code)
    assert _count(app, Ballot) == 0


def test_the_owners_notice_opens_the_meeting(browser_of, city, app, frozen_clock):
    from housing.notifications.models import Notification

    frozen_clock.set(DRAFTED)
    meeting_id = _published_meeting(browser_of("manager"), city)
    with Session(app.state.engine) as fresh:
        notice = fresh.exec(select(Notification).where(Notification.user_id == city.users["resident"])).one()
    opened = browser_of("resident").get(f"/notices/{notice.id}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/meetings/{meeting_id}"


def test_staff_edit_the_draft_then_cancel_with_a_reason(browser_of, city, app, frozen_clock):
    frozen_clock.set(DRAFTED)
    manager, resident = browser_of("manager"), browser_of("resident")
    meeting_id = _draft(manager, city)
    url = f"/console/meetings/{meeting_id}"
    assert _question(manager, meeting_id, kind="ordinary", q_title_en="Paint the doors?").status_code == 303
    assert _question(manager, meeting_id, kind="ordinary", q_title_en="Repair the roof?").status_code == 303
    page = manager.get(url)
    doors = re.search(r'id="question-(\d+)"[^>]*>\s*<h3>1\. Paint the doors\?', page.text).group(1)
    removed = _post(manager, url, f"{url}/questions/{doors}/remove", {})
    assert removed.status_code == 303
    page = manager.get(removed.headers["location"])
    assert "The question is removed from the agenda." in _text(page.text)
    assert "Paint the doors?" not in page.text and "1. Repair the roof?" in _text(page.text)
    edited = _post(
        manager,
        url,
        f"{url}/texts",
        {
            "title_en": "Roof meeting",
            "title_ru": "Собрание о крыше",
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
        },
    )
    assert edited.status_code == 303, edited.text
    page = _text(manager.get(url).text)
    assert "Roof meeting" in page and "Собрание о крыше" in page and "Umumiy yig'ilish" not in page
    assert _post(manager, url, f"{url}/publish", {}).status_code == 303

    cancelled = _post(manager, url, f"{url}/cancel", {"reason": "The roof was repaired under warranty"})
    assert cancelled.status_code == 303
    page = _text(manager.get(cancelled.headers["location"]).text)
    assert "The meeting is cancelled." in page
    assert "manager Cancelled The roof was repaired under warranty" in page  # the event log
    assert "Cancelled" in _text(resident.get("/meetings").text)
    frozen_clock.set(VOTING)
    agenda = resident.get(f"/meetings/{meeting_id}")
    assert agenda.status_code == 200 and 'action="/meetings/' not in agenda.text  # no vote, no signing
    assert "The meeting was cancelled: The roof was repaired under warranty" in _text(agenda.text)


def test_an_owner_starts_an_initiative_and_publishes_it_once_signed(browser_of, city, app, frozen_clock):
    frozen_clock.set(DRAFTED)
    resident = browser_of("resident")
    assert 'href="/meetings/initiatives/new"' in resident.get("/meetings").text
    form = resident.get("/meetings/initiatives/new")
    assert f'<option value="{city.building_a.id}"' in form.text
    assert f'<option value="{city.building_b.id}"' not in form.text  # only where they own or live
    drafted = _post(
        resident,
        "/meetings/initiatives/new",
        "/meetings/initiatives",
        {
            "building_id": str(city.building_a.id),
            "title_uz": "Kompaniyani almashtirish",
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
        },
    )
    assert drafted.status_code == 303, drafted.text
    url = drafted.headers["location"].split("?")[0]
    page = resident.get(drafted.headers["location"])
    assert "Your initiative is saved." in _text(page.text) and "Owners' initiative" in _text(page.text)

    added = _post(
        resident,
        url,
        f"{url}/questions",
        {
            "kind": "management_company",
            "q_title_uz": "Chilonzor Uy-Joy tanlansinmi?",
            "company_id": str(city.company_b.id),
            "effective_from": "2027-01-01",
        },
    )
    assert added.status_code == 303, added.text
    early = _post(resident, url, f"{url}/publish", {})
    assert 400 <= early.status_code < 500 and 'id="publish-error"' in early.text  # nobody signed yet
    assert _post(resident, url, f"{url}/sign", {}).status_code == 303
    published = _post(resident, url, f"{url}/publish", {})
    assert published.status_code == 303, published.text
    page = _text(resident.get(published.headers["location"]).text)
    assert "Published: every owner of the building was notified." in page
    assert "Announced: voting has not started" in page and "Add a question" not in page
    manager = browser_of("manager")
    manager_view = manager.get(f"/console{url}")
    assert manager_view.status_code == 200 and "Chilonzor Uy-Joy tanlansinmi?" in manager_view.text
    token = csrf_token(manager_view.text)
    assert manager.post(f"{url}/questions", data={"csrftoken": token}).status_code == 403  # owners' pages
