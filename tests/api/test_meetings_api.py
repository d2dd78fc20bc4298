"""Owners' meetings through the JSON API, as a company's manager, owners, a proxy and officials do it.

Building A of the shared `city` has two flats of 54.30 m2: the resident owns one, the
neighbour the other (all votes: 108.60 m2). The manager drafts a meeting on the management
fee, publishes it, the resident votes online, the neighbour's share is voted by a proxy the
manager accepted, and the manager closes it; each step is checked as a client sees it.
"""

import io

import pytest
from pypdf import PdfReader, PdfWriter
from sqlmodel import Session

from housing.accounts.models import Role
from housing.meetings.models import Meeting
from tests.conftest import make_settings
from tests.factories.core import login, make_person, make_user
from tests.factories.meetings import AFTER, DRAFTED, ENDS, STARTS, VOTING
from tests.factories.requests import make_resident, png_bytes


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, meetings={"document_dir": str(tmp_path / "meeting-files")})


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


MEETING = {
    "texts": [
        {"language": "en", "title": "General meeting", "body": "The fee for 2027."},
        {"language": "uz", "title": "Umumiy yig'ilish", "body": ""},
    ],
    "voting_starts": STARTS.isoformat(),
    "voting_ends": ENDS.isoformat(),
}
FEE = {
    "kind": "management_fee",
    "texts": [{"language": "en", "title": "Approve a fee of 2,500 UZS per m2"}],
    "fee_minor": 250_000,
    "effective_from": "2027-01-01",
}


@pytest.fixture
def drafted(client, city, frozen_clock) -> dict:
    frozen_clock.set(DRAFTED)
    manager = city.headers["manager"]
    made = client.post(
        "/api/v1/meetings", json=MEETING | {"building_id": city.building_a.id}, headers=manager
    )
    assert made.status_code == 201, made.text
    meeting = made.json()
    question = client.post(f"/api/v1/meetings/{meeting['id']}/questions", json=FEE, headers=manager)
    assert question.status_code == 201, question.text
    return {"id": meeting["id"], "question": question.json()}


@pytest.fixture
def published(client, city, drafted) -> dict:
    answer = client.post(f"/api/v1/meetings/{drafted['id']}/publish", headers=city.headers["manager"])
    assert answer.status_code == 200, answer.text
    return drafted


def test_a_manager_drafts_and_publishes_a_meeting(client, city, drafted):
    manager = city.headers["manager"]
    url = f"/api/v1/meetings/{drafted['id']}"
    assert drafted["question"]["rule"] == "cast>1/2"
    assert drafted["question"]["position"] == 1
    document = client.post(
        f"{url}/documents",
        data={"title": "Proposed contract", "question_id": str(drafted["question"]["id"])},
        files={"file": ("contract.pdf", pdf_bytes(), "application/pdf")},
        headers=manager,
    )
    assert document.status_code == 201, document.text
    [stored] = document.json()["documents"]
    assert (stored["title"], stored["content_type"]) == ("Proposed contract", "application/pdf")
    download = client.get(stored["url"], headers=city.headers["resident"])
    assert download.status_code == 404  # a draft: not shown to residents yet
    renamed = client.patch(
        url, json={"texts": [MEETING["texts"][0] | {"title": "Fee meeting"}]}, headers=manager
    )
    assert renamed.status_code == 200, renamed.text
    assert [t["title"] for t in renamed.json()["texts"]] == ["Fee meeting"]

    published = client.post(f"{url}/publish", headers=manager)
    assert published.status_code == 200, published.text
    body = published.json()
    assert (body["status"], body["phase"], body["record_date"], body["total_area_m2"]) == (
        "published",
        "notice",
        "2026-11-02",
        "108.60",
    )
    assert client.get(stored["url"], headers=city.headers["resident"]).content.startswith(b"%PDF-")
    listed = client.get("/api/v1/meetings", headers=city.headers["resident"]).json()
    assert [(m["id"], m["title"]) for m in listed["items"]] == [(drafted["id"], "Fee meeting")]
    # Too late to change the agenda, and publishing twice is refused.
    again = client.post(f"/api/v1/meetings/{drafted['id']}/questions", json=FEE, headers=manager)
    assert again.status_code == 409, again.text
    assert client.post(f"{url}/publish", headers=manager).status_code == 409
    events = client.get(f"{url}/events", headers=manager).json()
    assert events[0]["action"] == "drafted"
    assert "published" in [e["action"] for e in events]


def test_owners_vote_a_proxy_votes_and_the_close_counts(
    client, city, published, frozen_clock, session: Session
):
    manager, resident = city.headers["manager"], city.headers["resident"]
    url = f"/api/v1/meetings/{published['id']}"
    question_id = published["question"]["id"]
    [mine] = client.get(f"{url}/my-entries", headers=resident).json()
    assert (mine["weight_m2"], mine["share"], mine["ballot"]) == ("54.30", "1", None)
    ballot = {"voter_id": mine["voter_id"], "answers": [{"question_id": question_id, "choice": "for"}]}
    early = client.post(f"{url}/ballots", json=ballot, headers=resident)
    assert early.status_code == 409, early.text  # voting has not started

    frozen_clock.set(VOTING)
    cast = client.post(f"{url}/ballots", json=ballot, headers=resident)
    assert cast.status_code == 201, cast.text
    receipt = cast.json()["receipt"]
    assert len(receipt) == 16
    twice = client.post(f"{url}/ballots", json=ballot, headers=resident)
    assert twice.status_code == 409, twice.text
    turnout = client.get(f"{url}/turnout", headers=resident).json()
    # Exactly half of all votes is no quorum.
    assert (turnout["cast_m2"], turnout["total_m2"], turnout["cast_percent"], turnout["quorum_reached"]) == (
        "54.30",
        "108.60",
        "50.00",
        False,
    )
    assert client.get(f"{url}/results", headers=resident).status_code == 409
    assert client.get(f"{url}/protocol.pdf", headers=resident).status_code == 409
    assert client.get(f"{url}/register", headers=resident).status_code == 409
    found = client.get(f"{url}/receipts/{receipt}", headers=resident)
    assert found.status_code == 200, found.text
    assert (found.json()["apartment_number"], found.json()["choices"]) == (city.home.number, {})

    # The neighbour's share through a proxy: the manager uploads the power of attorney and accepts it.
    roll = client.get(f"{url}/roll", headers=manager).json()
    neighbour = next(e for e in roll if e["apartment_id"] == city.neighbour.id)
    assert [e["voted"] for e in roll if e["apartment_id"] == city.home.id] == [True]
    proxy_person = make_person(session, full_name="Proxy Person")
    make_user(session, Role.resident, username="proxy", person_id=proxy_person.id)
    session.commit()
    submitted = client.post(
        f"{url}/proxies",
        data={"voter_id": str(neighbour["voter_id"]), "proxy_person_id": str(proxy_person.id)},
        files={"document": ("attorney.png", png_bytes(), "image/png")},
        headers=manager,
    )
    assert submitted.status_code == 201, submitted.text
    proxy_id = submitted.json()["id"]
    refused = client.post(f"{url}/proxies/{proxy_id}/decision", json={"accept": False}, headers=manager)
    assert refused.status_code == 422  # a rejection says why
    accepted = client.post(f"{url}/proxies/{proxy_id}/decision", json={"accept": True}, headers=manager)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert client.get(f"{url}/proxies/{proxy_id}/document", headers=manager).content == png_bytes()
    proxy = login(client, "proxy")
    [held] = client.get(f"{url}/my-entries", headers=proxy).json()
    assert (held["voter_id"], held["as_proxy"]) == (neighbour["voter_id"], True)
    by_proxy = {"voter_id": held["voter_id"], "answers": [{"question_id": question_id, "choice": "against"}]}
    assert client.post(f"{url}/ballots", json=by_proxy, headers=proxy).status_code == 201
    # A paper ballot for a share that has voted is refused, saying why.
    paper = client.post(
        f"{url}/paper-ballots",
        data={"voter_id": str(neighbour["voter_id"]), "answers": [f"{question_id}=for"]},
        files={"scan": ("ballot.png", png_bytes(), "image/png")},
        headers=manager,
    )
    assert paper.status_code == 409, paper.text

    assert client.post(f"{url}/close", headers=manager).status_code == 409  # still voting
    frozen_clock.set(AFTER)
    assert client.post(f"{url}/close", headers=resident).status_code in (403, 404)
    closed = client.post(f"{url}/close", headers=manager)
    assert closed.status_code == 200, closed.text
    result = closed.json()
    assert (result["final"], result["quorum"], result["cast_percent"], result["ballots"]) == (
        True,
        True,
        "100.00",
        2,
    )
    [fee] = result["questions"]
    assert (fee["votes_for_m2"], fee["votes_against_m2"], fee["for_percent_of_cast"]) == (
        "54.30",
        "54.30",
        "50.00",
    )
    assert (fee["outcome"], fee["votes_for_exact"], fee["title"]) == (
        "rejected",
        "543/10",
        FEE["texts"][0]["title"],
    )
    assert client.get(f"{url}/results", headers=resident).json() == result
    register = client.get(f"{url}/register", headers=resident).json()
    assert register["intact"] is True
    assert [(r["sequence"], r["choices"], r["proxy_name"]) for r in register["rows"]] == [
        (1, {str(question_id): "for"}, None),
        (2, {str(question_id): "against"}, "Proxy Person"),
    ]
    assert register["chain_head"] == register["rows"][-1]["hash"]
    assert client.get(f"{url}/receipts/{receipt}", headers=resident).json()["choices"] == {
        str(question_id): "for"
    }
    assert client.post(f"{url}/close", headers=manager).status_code == 409
    assert client.get(f"{url}/events", headers=resident).status_code == 403
    pdf = client.get(f"{url}/protocol.pdf", params={"language": "en"}, headers=resident)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    words = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Not adopted" in words, words[:500]
    assert register["chain_head"] in words.replace("\n", "")
    assert client.get(f"{url}/protocol.pdf", params={"language": "de"}, headers=resident).status_code == 422
    # A tenant of the building reads the results, not who voted how: the register, the receipts
    # and the protocol are the owners' (and staff's, and officials').
    tenant_user = make_resident(session, city.home, owner=False)
    session.commit()
    tenant = login(client, tenant_user.username)
    assert client.get(f"{url}/results", headers=tenant).json() == result
    for path in ("register", f"receipts/{receipt}", "protocol.pdf"):
        assert client.get(f"{url}/{path}", headers=tenant).status_code == 403, path
        assert client.get(f"{url}/{path}", headers=city.headers["official"]).status_code == 200, path


def test_a_paper_ballot_with_its_scan(client, city, published, frozen_clock):
    frozen_clock.set(VOTING)
    manager = city.headers["manager"]
    url = f"/api/v1/meetings/{published['id']}"
    question_id = published["question"]["id"]
    voter = next(
        e for e in client.get(f"{url}/roll", headers=manager).json() if e["apartment_id"] == city.neighbour.id
    )
    for answers in (["x=for"], [f"{question_id}=maybe"], [f"{question_id}=for", f"{question_id}=against"]):
        bad = client.post(
            f"{url}/paper-ballots",
            data={"voter_id": str(voter["voter_id"]), "answers": answers},
            files={"scan": ("ballot.png", png_bytes(), "image/png")},
            headers=manager,
        )
        assert bad.status_code == 422, (answers, bad.text)
    not_a_scan = client.post(
        f"{url}/paper-ballots",
        data={"voter_id": str(voter["voter_id"]), "answers": [f"{question_id}=for"]},
        files={"scan": ("ballot.png", b"<script>", "image/png")},
        headers=manager,
    )
    assert not_a_scan.status_code == 415, not_a_scan.text
    entered = client.post(
        f"{url}/paper-ballots",
        data={"voter_id": str(voter["voter_id"]), "answers": [f"{question_id}=for"]},
        files={"scan": ("ballot.png", png_bytes(), "image/png")},
        headers=manager,
    )
    assert entered.status_code == 201, entered.text
    assert entered.json()["channel"] == "paper"
    assert client.get(f"{url}/turnout", headers=manager).json()["ballots"] == 1
    assert [e["voted"] for e in client.get(f"{url}/roll", headers=manager).json()].count(True) == 1


def test_other_companies_staff_see_nothing_and_officials_only_read(client, city, published):
    url = f"/api/v1/meetings/{published['id']}"
    assert client.get(url, headers=city.headers["manager_b"]).status_code == 404
    assert client.get("/api/v1/meetings", headers=city.headers["manager_b"]).json()["total"] == 0
    assert client.get(url, headers=city.headers["official"]).status_code == 200
    assert client.get(f"{url}/events", headers=city.headers["official"]).status_code == 200
    assert (
        client.post(f"{url}/cancel", json={"reason": "no"}, headers=city.headers["official"]).status_code
        == 403
    )
    assert client.get(f"{url}/roll", headers=city.headers["resident"]).status_code == 403
    assert client.get("/api/v1/meetings/999999").status_code == 401
    assert client.get("/api/v1/meetings/999999", headers=city.headers["admin"]).status_code == 404


def test_a_manager_cancels_before_voting_starts(client, city, published):
    url = f"/api/v1/meetings/{published['id']}"
    blank = client.post(f"{url}/cancel", json={"reason": "   "}, headers=city.headers["manager"])
    assert blank.status_code == 422
    cancelled = client.post(f"{url}/cancel", json={"reason": "Wrong agenda"}, headers=city.headers["manager"])
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["phase"]) == ("cancelled", "cancelled")


@pytest.mark.parametrize(
    "change",
    [
        {"voting_ends": STARTS.isoformat()},  # ends before it starts
        {"voting_starts": STARTS.replace(tzinfo=None).isoformat()},  # no offset
        {"voting_starts": "0001-01-01T00:00:00+00:00"},
        {"texts": []},
        {"texts": [MEETING["texts"][0], MEETING["texts"][0]]},
        {"texts": [{"language": "de", "title": "Versammlung"}]},
        {"texts": [{"language": "en", "title": "a\x00b"}]},
        {"texts": [{"language": "en", "title": "   "}]},
        {"building_id": 2**31},
        {"building_id": True},
        {"building_id": 999_999},
    ],
)
def test_an_absurd_draft_is_refused(client, city, frozen_clock, change):
    frozen_clock.set(DRAFTED)
    body = MEETING | {"building_id": city.building_a.id} | change
    answer = client.post("/api/v1/meetings", json=body, headers=city.headers["manager"])
    assert answer.status_code == 422, answer.text
    assert client.get("/api/v1/meetings", headers=city.headers["manager"]).json()["total"] == 0


@pytest.mark.parametrize(
    "ballot",
    [
        {"answers": [{"question_id": 1, "choice": "yes"}]},
        {"answers": []},
        {"answers": [{"question_id": 1, "choice": "for"}, {"question_id": 1, "choice": "against"}]},
        {"answers": [{"question_id": 2**31, "choice": "for"}]},
        {"voter_id": 0, "answers": [{"question_id": 1, "choice": "for"}]},
    ],
)
def test_an_absurd_ballot_is_422(client, city, published, frozen_clock, ballot):
    frozen_clock.set(VOTING)
    url = f"/api/v1/meetings/{published['id']}"
    body = {"voter_id": 1} | ballot
    assert client.post(f"{url}/ballots", json=body, headers=city.headers["resident"]).status_code == 422
    assert client.get(f"{url}/turnout", headers=city.headers["resident"]).json()["ballots"] == 0


def test_an_absurd_receipt_or_question_is_4xx(client, city, published, frozen_clock, session: Session):
    url = f"/api/v1/meetings/{published['id']}"
    resident = city.headers["resident"]
    assert client.get(f"{url}/receipts/zz{'0' * 20}", headers=resident).status_code == 422
    assert client.get(f"{url}/receipts/{'0' * 15}", headers=resident).status_code == 422
    assert client.get(f"{url}/receipts/{'0' * 16}", headers=resident).status_code == 404
    frozen_clock.set(VOTING)
    # A question of another meeting, or none.
    [mine] = client.get(f"{url}/my-entries", headers=resident).json()
    stray = {"voter_id": mine["voter_id"], "answers": [{"question_id": 999_999, "choice": "for"}]}
    assert client.post(f"{url}/ballots", json=stray, headers=resident).status_code == 422
    assert session.get(Meeting, published["id"]).ballots == 0
    missing = client.delete(f"{url}/questions/999999", headers=city.headers["manager"])
    assert missing.status_code == 404


def test_owners_initiate_a_meeting_and_sign_it(client, city, frozen_clock):
    frozen_clock.set(DRAFTED)
    resident = city.headers["resident"]
    made = client.post(
        "/api/v1/meetings", json=MEETING | {"building_id": city.building_a.id}, headers=resident
    )
    assert made.status_code == 201, made.text
    assert (made.json()["status"], made.json()["initiator"]) == ("initiative", "owners")
    url = f"/api/v1/meetings/{made.json()['id']}"
    assert client.post(f"{url}/questions", json=FEE, headers=resident).status_code == 201
    before = client.get(f"{url}/signatures", headers=resident).json()
    assert (before["signed_percent"], before["needed_percent"], before["enough"]) == ("0.00", "10.00", False)
    signed = client.post(f"{url}/signatures", headers=resident)
    assert signed.status_code == 201, signed.text
    assert (signed.json()["signed_m2"], signed.json()["total_m2"], signed.json()["signed_percent"]) == (
        "54.30",
        "108.60",
        "50.00",
    )
    assert (signed.json()["enough"], signed.json()["signatures"]) == (True, 1)
    # What owners signed can no longer change; the initiative is published with its signatures.
    assert client.patch(url, json={"texts": [MEETING["texts"][0]]}, headers=resident).status_code == 409
    published = client.post(f"{url}/publish", headers=resident)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"


def test_an_agenda_document_larger_than_a_form_is_taken(client, city, drafted):
    """A 2 MB scan is within HOUSING_MEETINGS__MAX_DOCUMENT_BYTES: the body limit of a plain form
    (256 KB) must not refuse it before the service judges it."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Scan": "0" * (2 * 1024 * 1024)})
    buffer = io.BytesIO()
    writer.write(buffer)
    assert buffer.tell() > 2 * 1024 * 1024
    answer = client.post(
        f"/api/v1/meetings/{drafted['id']}/documents",
        data={"title": "Signed estimate"},
        files={"file": ("estimate.pdf", buffer.getvalue(), "application/pdf")},
        headers=city.headers["manager"],
    )
    assert answer.status_code == 201, answer.text
