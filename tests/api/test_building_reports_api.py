"""The building account and report routes: who reads, who publishes, drafts, refusals, the PDF and the pages."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from housing.building_money.models import BuildingReport, BuildingReportLine
from housing.notifications.models import Notification
from tests.conftest import FrozenClock
from tests.factories.billing import make_billed_invoice, make_invoice_line, make_ledger_entry, make_service
from tests.factories.money import spend

Q3 = "2026-Q3"
FEE = 9_000_000  # the management line of the home's September bill
WATER = 1_000_000  # its cold-water line: not the company's


@pytest.fixture
def money(session: Session, city, frozen_clock: FrozenClock):
    """Building A's Q3: one bill of the home (fee + water) paid in full, one cleaning expense."""
    frozen_clock.at(date(2026, 10, 20), 10)
    management = make_service(session, code="management", unit="m2")
    water = make_service(session, code="cold_water")
    invoice = make_billed_invoice(
        session, city.home, FEE + WATER, period=date(2026, 8, 1), issued_at=datetime(2026, 9, 1, tzinfo=UTC)
    )
    make_invoice_line(session, invoice, management, amount_minor=FEE)
    make_invoice_line(session, invoice, water, amount_minor=WATER)
    make_ledger_entry(
        session,
        city.home,
        kind="payment",
        amount_minor=-(FEE + WATER),
        occurred_at=datetime(2026, 9, 10, tzinfo=UTC),
    )
    spend(session, city.building_a, 2_500_000, on=date(2026, 8, 20), today=date(2026, 10, 20))
    session.commit()
    return city


def url(city, quarter: str = Q3, tail: str = "") -> str:
    return f"/api/v1/buildings/{city.building_a.id}/reports/{quarter}{tail}"


def count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_staff_read_the_draft_and_others_see_nothing_before_it_is_published(client, money) -> None:
    draft = client.get(url(money), headers=money.headers["manager"])
    assert draft.status_code == 200, draft.text
    body = draft.json()
    assert body["published"] is False
    assert (body["income_minor"], body["expenses_minor"], body["closing_balance_minor"]) == (
        FEE,
        2_500_000,
        FEE - 2_500_000,
    )
    assert body["by_category"] == {"cleaning": 2_500_000}
    for who in ("resident", "official", "manager_b"):
        assert client.get(url(money), headers=money.headers[who]).status_code == 404, who


def test_publishing_is_for_the_building_company_once_and_only_after_the_quarter(
    client, session, money
) -> None:
    for who, status in (("resident", 403), ("official", 403), ("dispatcher", 403), ("manager_b", 404)):
        assert client.post(url(money), headers=money.headers[who]).status_code == status, who
    early = client.post(url(money, "2026-Q4"), headers=money.headers["manager"])
    assert early.status_code == 409 and "quarter not over" in early.json()["detail"]
    assert count(session, BuildingReport) == 0
    published = client.post(url(money), headers=money.headers["manager"])
    assert published.status_code == 201, published.text
    assert published.json()["published"] is True and published.json()["on_time"] is True
    again = client.post(url(money), headers=money.headers["admin"])
    assert again.status_code == 409
    assert count(session, BuildingReport) == 1 and count(session, BuildingReportLine) == 1
    for who in ("resident", "official", "manager", "admin"):
        read = client.get(url(money), headers=money.headers[who])
        assert read.status_code == 200 and read.json()["income_minor"] == FEE, who
    assert client.get(url(money), headers=money.headers["manager_b"]).status_code == 404
    told = session.exec(
        select(Notification).where(
            Notification.kind == "building_report", Notification.user_id == money.users["resident"]
        )
    ).all()
    assert [n.link for n in told] == [f"/buildings/{money.building_a.id}/money/{Q3}"]


@pytest.mark.parametrize("quarter", ["2026-Q5", "2026Q3", "1999-Q1", "2026-Q3%00", "x" * 300, "3000-Q1"])
def test_a_quarter_not_written_as_one_is_refused(client, session, money, quarter: str) -> None:
    for response in (
        client.get(url(money, quarter), headers=money.headers["manager"]),
        client.post(url(money, quarter), headers=money.headers["manager"]),
    ):
        assert response.status_code == 422, (quarter, response.text)
    assert count(session, BuildingReport) == 0


def test_building_ids_out_of_range_or_of_no_building_are_not_found_or_invalid(client, money) -> None:
    headers = money.headers["admin"]
    assert client.get(f"/api/v1/buildings/{2**31}/account", headers=headers).status_code == 422
    assert client.get("/api/v1/buildings/999999/account", headers=headers).status_code == 404
    assert client.post(f"/api/v1/buildings/999999/reports/{Q3}", headers=headers).status_code == 404


def test_the_account_shows_the_quarter_so_far_and_the_reports(client, money) -> None:
    client.post(url(money), headers=money.headers["manager"])
    account = client.get(
        f"/api/v1/buildings/{money.building_a.id}/account", headers=money.headers["resident"]
    )
    assert account.status_code == 200, account.text
    body = account.json()
    assert body["quarter"] == "2026-Q4"
    assert body["opening_balance_minor"] == FEE - 2_500_000 == body["balance_minor"]
    assert [r["quarter"] for r in body["reports"]] == [Q3]
    listed = client.get(f"/api/v1/buildings/{money.building_a.id}/reports", headers=money.headers["official"])
    assert [r["quarter"] for r in listed.json()] == [Q3]
    other = client.get(f"/api/v1/buildings/{money.building_b.id}/account", headers=money.headers["resident"])
    assert other.status_code == 404


def test_the_pdf_is_the_same_bytes_each_time_in_each_language(client, money) -> None:
    client.post(url(money), headers=money.headers["manager"])
    prints = {}
    for language in ("uz", "ru", "en"):
        first = client.get(
            url(money, tail="/pdf"), params={"language": language}, headers=money.headers["resident"]
        )
        second = client.get(
            url(money, tail="/pdf"), params={"language": language}, headers=money.headers["resident"]
        )
        assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
        assert first.content.startswith(b"%PDF") and first.content == second.content
        prints[language] = first.content
    assert len(set(prints.values())) == 3
    bad = client.get(url(money, tail="/pdf"), params={"language": "xx"}, headers=money.headers["resident"])
    assert bad.status_code == 422


def test_pages_show_the_account_and_the_report_and_the_console_publishes(browser_of, session, money) -> None:
    manager = browser_of("manager")
    console = manager.get("/console/money/reports")
    assert console.status_code == 200 and f'href="/buildings/{money.building_a.id}/money"' in console.text
    assert f'href="/buildings/{money.building_b.id}/money"' not in console.text
    draft = manager.get(f"/buildings/{money.building_a.id}/money/{Q3}")
    assert draft.status_code == 200 and "Publish" in draft.text
    token = manager.cookies.get("csrftoken")
    posted = manager.post(
        f"/buildings/{money.building_a.id}/money/{Q3}", data={"csrftoken": token}, follow_redirects=False
    )
    assert posted.status_code == 303, posted.text
    twice = manager.post(f"/buildings/{money.building_a.id}/money/{Q3}", data={"csrftoken": token})
    assert twice.status_code == 409 and "already published" in twice.text
    assert count(session, BuildingReport) == 1
    resident = browser_of("resident")
    account = resident.get(f"/buildings/{money.building_a.id}/money")
    assert account.status_code == 200 and Q3 in account.text
    report = resident.get(f"/buildings/{money.building_a.id}/money/{Q3}")
    assert (
        report.status_code == 200
        and "Cleaning" in report.text
        and "<form" not in report.text.split("<main")[1]
    )
    pdf = resident.get(f"/buildings/{money.building_a.id}/money/{Q3}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert resident.get(f"/buildings/{money.building_b.id}/money").status_code == 404
    assert resident.get("/console/money/reports").status_code == 403
    home = resident.get("/apartments")
    assert f"/buildings/{money.building_a.id}/money" in home.text
