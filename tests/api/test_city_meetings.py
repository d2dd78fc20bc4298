"""The officials' view of owners' meetings: `/city/meetings` and `/api/v1/city/meetings`.

Meetings are written as closed rows with their results (how a meeting is counted is tested
with the service): in Yunusobod, building A's owners (company A's on the record date)
voted with a quorum to hand their building to company C, and building B's meeting had no
quorum; in Chilonzor, building C's owners kept company C and approved its fee. A meeting
still voting and one held long ago are not counted.
"""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from housing.i18n import LANGUAGE_COOKIE
from housing.meetings.models import BuildingDecision, Meeting, MeetingQuestion, MeetingStatus
from housing.meetings.rules import DecisionKind, Outcome
from housing.registry import service as registry
from housing.scores.models import QualityScore
from tests.factories.core import PASSWORD, make_building, make_company, make_district
from tests.pages import log_in

NOW = datetime(2026, 11, 10, 6, tzinfo=UTC)


def held_meeting(
    session: Session,
    building_id: int,
    created_by: int,
    *,
    ends: date,
    quorum: bool | None,
    record_date: date,
    questions: list[tuple[DecisionKind, Outcome | None, int | None]],
    status: MeetingStatus = MeetingStatus.closed,
) -> Meeting:
    ends_at = datetime(ends.year, ends.month, ends.day, 12, tzinfo=UTC)
    meeting = Meeting(
        building_id=building_id,
        initiator="company",
        created_by=created_by,
        status=status,
        voting_starts=ends_at - timedelta(days=10),
        voting_ends=ends_at,
        published_at=ends_at - timedelta(days=30),
        record_date=record_date,
        total_area_m2=Decimal("1000.00"),
        closed_at=ends_at if status is MeetingStatus.closed else None,
        quorum_reached=quorum,
    )
    session.add(meeting)
    session.flush()
    for position, (kind, outcome, company_id) in enumerate(questions, start=1):
        question = MeetingQuestion(
            meeting_id=meeting.id,
            position=position,
            kind=kind,
            company_id=company_id,
            fee_minor=200_000 if kind is DecisionKind.management_fee else None,
            effective_from=ends + timedelta(days=20),
            outcome=outcome,
        )
        session.add(question)
        session.flush()
        if outcome is Outcome.adopted:
            session.add(
                BuildingDecision(
                    building_id=building_id,
                    meeting_id=meeting.id,
                    question_id=question.id,
                    kind=kind,
                    effective_from=question.effective_from,
                    company_id=company_id,
                    fee_minor=question.fee_minor,
                    decided_at=ends_at,
                )
            )
    session.flush()
    return meeting


@pytest.fixture
def meetings(session: Session, city, frozen_clock):
    frozen_clock.set(NOW)
    admin = city.users["admin"]
    district_c = make_district(session, name="Chilonzor")
    company_c = make_company(session, name="Chilonzor Servis", district_id=district_c.id)
    building_c = make_building(session, company_c, district_id=district_c.id, address="Bunyodkor 7")
    change = held_meeting(
        session,
        city.building_a.id,
        admin,
        ends=date(2026, 10, 20),
        quorum=True,
        record_date=date(2026, 9, 1),
        questions=[
            (DecisionKind.management_company, Outcome.adopted, company_c.id),
            (DecisionKind.ordinary, Outcome.rejected, None),
        ],
    )
    registry.change_management(
        session, city.building_a, company_id=company_c.id, valid_from=date(2026, 11, 9)
    )
    held_meeting(
        session,
        city.building_b.id,
        admin,
        ends=date(2026, 9, 10),
        quorum=False,
        record_date=date(2026, 8, 1),
        questions=[(DecisionKind.capital_repair, Outcome.no_quorum, None)],
    )
    held_meeting(
        session,
        building_c.id,
        admin,
        ends=date(2026, 10, 5),
        quorum=True,
        record_date=date(2026, 8, 20),
        questions=[
            (DecisionKind.management_company, Outcome.adopted, company_c.id),  # kept: no change
            (DecisionKind.management_fee, Outcome.adopted, None),
        ],
    )
    held_meeting(  # still voting
        session,
        city.building_b.id,
        admin,
        ends=date(2026, 11, 20),
        quorum=None,
        record_date=date(2026, 10, 1),
        questions=[(DecisionKind.management_company, None, company_c.id)],
        status=MeetingStatus.published,
    )
    held_meeting(  # long before the last 12 months
        session,
        city.building_b.id,
        admin,
        ends=date(2025, 6, 1),
        quorum=True,
        record_date=date(2025, 4, 1),
        questions=[(DecisionKind.management_company, Outcome.adopted, company_c.id)],
    )
    for company, period, total in (
        (city.company_a, date(2026, 10, 1), 80.5),
        (city.company_a, date(2026, 9, 1), 60.0),
        (company_c, date(2026, 9, 1), 72.4),
        (company_c, date(2026, 12, 1), 99.0),  # after the period asked for
    ):
        session.add(
            QualityScore(company_id=company.id, period=period, total=total, method_version=1, computed_at=NOW)
        )
    session.commit()
    return {"district_c": district_c, "company_c": company_c, "building_c": building_c, "change": change}


@pytest.fixture
def official(client, city, meetings):
    answer = log_in(client, "official", PASSWORD)
    assert answer.status_code == 200, answer.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return client


def rows(html: str, attribute: str) -> dict[str, str]:
    found = re.findall(rf'<tr data-{attribute}="([\w]+)"[^>]*>(.*?)</tr>', html, re.S)
    return {key: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip() for key, body in found}


def figure(html: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', html).group(1)


def test_the_page_counts_meetings_held_quorum_decisions_and_changes(official, city, meetings):
    page = official.get("/city/meetings")
    assert page.status_code == 200, page.text
    html = page.text
    assert (figure(html, "meetings"), figure(html, "quorum")) == ("3", "2")
    assert (figure(html, "decisions"), figure(html, "changes")) == ("3", "1")
    kinds = rows(html, "kind")
    assert kinds["management_company"] == "Management company 2 2 0 0"
    assert kinds["capital_repair"] == "Capital repair 1 0 0 1"
    assert kinds["ordinary"] == "Ordinary decision 1 0 1 0"
    districts = rows(html, "district")
    assert districts[str(city.building_a.district_id)] == "Yunusobod 2 1 1"
    assert districts[str(meetings["district_c"].id)] == "Chilonzor 1 1 0"
    companies = rows(html, "company")
    # The company that lost a building first, with its latest score up to this month.
    assert list(companies) == [str(city.company_a.id), str(meetings["company_c"].id), str(city.company_b.id)]
    assert companies[str(city.company_a.id)].startswith("Yunusobod Servis 1 1 1 0 80.5")
    assert companies[str(meetings["company_c"].id)].startswith("Chilonzor Servis 1 1 0 1 72.4")
    assert companies[str(city.company_b.id)] == "Chilonzor Uy-Joy 1 0 0 0 –"
    assert 'href="/city/meetings" aria-current="page"' in html


def test_filters_by_district_and_period(official, city, meetings):
    chilonzor = official.get("/city/meetings", params={"district_id": meetings["district_c"].id}).text
    assert (figure(chilonzor, "meetings"), figure(chilonzor, "changes")) == ("1", "0")
    assert set(rows(chilonzor, "district")) == {str(meetings["district_c"].id)}
    october = official.get("/city/meetings", params={"since": "2026-10", "until": "2026-10"}).text
    assert (figure(october, "meetings"), figure(october, "quorum")) == ("2", "2")
    assert "capital_repair" not in rows(october, "kind")
    long_ago = official.get("/city/meetings", params={"since": "2025-01", "until": "2025-12"}).text
    assert (figure(long_ago, "meetings"), figure(long_ago, "changes")) == ("1", "1")
    # An empty choice in the GET form is "all".
    assert (
        official.get("/city/meetings", params={"district_id": "", "since": "", "until": ""}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-11", "until": "2026-10"},
        {"since": "2026-13"},
        {"until": "1999-12"},
        {"district_id": "²"},
        {"district_id": "99999999999"},
    ],
)
def test_absurd_filters_are_422(official, params):
    assert official.get("/city/meetings", params=params).status_code == 422
    assert official.get("/api/v1/city/meetings", params=params).status_code == 422


def test_absurd_paging_is_422(official):
    assert official.get("/city/meetings", params={"page": "0"}).status_code == 422
    assert official.get("/api/v1/city/meetings", params={"limit": "0"}).status_code == 422
    assert official.get("/api/v1/city/meetings", params={"offset": "-1"}).status_code == 422


def test_the_json_report_says_the_same(official, city, meetings):
    answer = official.get("/api/v1/city/meetings", params={"limit": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["since"], body["until"]) == ("2025-12", "2026-11")
    assert (body["meetings"], body["quorum"], body["decisions"], body["company_changes"]) == (3, 2, 3, 1)
    assert {k["kind"]: k["adopted"] for k in body["kinds"]} == {
        "ordinary": 0,
        "management_company": 2,
        "management_fee": 1,
        "capital_repair": 0,
    }
    companies = body["companies"]
    assert (companies["total"], companies["limit"], len(companies["items"])) == (3, 2, 2)
    first = companies["items"][0]
    assert (first["company_id"], first["buildings_lost"], first["score"], first["score_period"]) == (
        city.company_a.id,
        1,
        80.5,
        "2026-10-01",
    )
    rest = official.get("/api/v1/city/meetings", params={"limit": 2, "offset": 2}).json()["companies"][
        "items"
    ]
    assert [c["company_id"] for c in rest] == [city.company_b.id]


@pytest.mark.parametrize("who", ["resident", "manager", "dispatcher"])
def test_only_officials_and_admins_read_it(client, city, meetings, who):
    assert client.get("/api/v1/city/meetings", headers=city.headers[who]).status_code == 403
    assert client.get("/api/v1/city/meetings", headers=city.headers["admin"]).status_code == 200
    assert client.get("/api/v1/city/meetings").status_code == 401
