"""The payments' console pages and the city's: each company sees its own payments and differences,
the statement upload posts then redirects (or shows every bad line), officials see the city."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from billing.models import Gateway, ProviderStatementLine
from billing.payments.reconciliation.service import reconcile_day
from housing.i18n import LANGUAGE_COOKIE
from tests.api.conftest import City
from tests.factories.reconciliation import bank_payment, provider_payment
from tests.pages import csrf_token

TZ = ZoneInfo("Asia/Tashkent")
DAY = date(2026, 11, 3)
TODAY = date(2026, 11, 5)


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), TZ)


@pytest.fixture(autouse=True)
def _today(frozen_clock):
    frozen_clock.at(TODAY, 9)


@pytest.fixture
def paid(session: Session, city: City):
    provider_payment(session, Gateway.payme, city.home, "p-home", 10_000_000, at(DAY, 10))
    provider_payment(session, Gateway.payme, city.far_away, "p-far", 20_000_000, at(DAY, 11))
    provider_payment(
        session, Gateway.click, city.neighbour, "c-next", 3_000_000, at(DAY, 12), cancel_at=at(DAY, 13)
    )
    bank_payment(session, city.far_away, "BANK-7", 4_000_000, at(DAY - timedelta(days=1), 12))
    for gateway in Gateway:
        reconcile_day(session, gateway, DAY, timezone="Asia/Tashkent", now=at(TODAY, 6))
    session.commit()
    return city


def statement(city: City, *, home_amount: str = "100000", far: bool = True) -> bytes:
    lines = [
        "transaction_id,time,amount,account_number,state",
        f"p-home,2026-11-03T10:00:00+05:00,{home_amount},{city.home.account_number},performed",
    ]
    if far:
        lines.append(f"p-far,2026-11-03T11:00:00+05:00,200001,{city.far_away.account_number},performed")
    return ("\n".join(lines) + "\n").encode()


def post_statement(browser, data: bytes, gateway: str = "payme", **kw):
    page = browser.get("/console/payments/reconciliation")
    return browser.post(
        "/console/payments/reconciliation",
        data={"csrftoken": csrf_token(page.text), "gateway": gateway},
        files={"file": ("payme.csv", data, "text/csv")},
        **kw,
    )


def test_staff_see_their_companys_payments_with_provider_and_transaction(browser_of, paid: City):
    manager = browser_of("manager")
    page = manager.get("/console/payments")
    assert page.status_code == 200
    assert (
        "p-home" in page.text
        and "c-next" in page.text
        and "p-far" not in page.text
        and "BANK-7" not in page.text
    )
    assert 'href="/console/payments"' in page.text  # in the console's navigation
    narrowed = manager.get("/console/payments", params={"gateway": "payme", "day": "2026-11-03"})
    assert "p-home" in narrowed.text and "c-next" not in narrowed.text
    assert "p-home" not in manager.get("/console/payments", params={"day": "2026-11-02"}).text
    other = browser_of("manager_b").get("/console/payments")
    assert "p-far" in other.text and "BANK-7" in other.text and "p-home" not in other.text


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/console/payments", {"gateway": "paypal"}),
        ("/console/payments", {"day": "2026-02-30"}),
        ("/console/payments", {"day": "0001-01-01"}),
        ("/console/payments/daily", {"from": "2026-11-05", "to": "2026-10-01"}),
        ("/console/payments/daily", {"from": "yesterday"}),
        ("/console/payments/reconciliation", {"gateway": "x\x1b"}),
        ("/city/payments", {"to": "9999-12-31"}),
        ("/city/payments", {"company_id": "abc"}),
    ],
)
def test_a_bad_filter_is_a_page_saying_so(browser_of, paid: City, url, params):
    who = "official" if url.startswith("/city") else "admin"
    answer = browser_of(who).get(url, params=params, headers={"Accept": "text/html"})
    assert answer.status_code == 422, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")


def test_the_daily_page_sums_each_provider_over_the_companys_apartments(browser_of, paid: City):
    page = browser_of("manager").get(
        "/console/payments/daily", params={"from": "2026-11-01", "to": "2026-11-05"}
    )
    assert page.status_code == 200
    assert 'data-day="2026-11-03" data-gateway="payme"' in page.text
    assert 'data-day="2026-11-03" data-gateway="click"' in page.text
    assert 'data-gateway="bank"' not in page.text  # company B's
    assert "UZS100,000.00" in page.text  # p-home
    assert "UZS30,000.00" in page.text  # c-next, paid and refunded the same day


def test_a_managers_upload_redirects_to_the_differences_of_their_apartments(browser_of, paid: City, session):
    manager = browser_of("manager")
    answer = post_statement(
        manager, statement(paid, home_amount="100000.50", far=False), follow_redirects=False
    )
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"].startswith(
        "/console/payments/reconciliation?gateway=payme&done=imported-1-0-0-1"
    )
    page = manager.get(answer.headers["location"])
    assert "The statement is imported: 1 new lines" in page.text
    assert 'data-kind="amount_differs"' in page.text and "p-home" in page.text
    other = browser_of("manager_b").get("/console/payments/reconciliation")
    assert 'data-kind="amount_differs"' not in other.text
    # a hand-made notice is not read
    forged = manager.get("/console/payments/reconciliation", params={"done": "imported-1-2-3-<b>"})
    assert forged.status_code == 200 and "The statement is imported" not in forged.text


def test_a_refused_upload_shows_every_bad_line_and_imports_nothing(browser_of, paid: City, session: Session):
    manager = browser_of("manager")
    answer = post_statement(manager, statement(paid) + b"p-x,not a time,-1,1,done\n")
    assert answer.status_code == 422
    assert "Nothing was imported" in answer.text
    assert "Line 3 (account_number)" in answer.text  # another company's account
    assert (
        "Line 4 (time)" in answer.text
        and "Line 4 (amount)" in answer.text
        and "Line 4 (state)" in answer.text
    )
    no_gateway = post_statement(manager, statement(paid, far=False), gateway="stripe")
    assert no_gateway.status_code == 422 and "Payme or Click" in no_gateway.text
    assert session.exec(select(ProviderStatementLine)).all() == []


def test_only_managers_and_admins_upload(browser_of, paid: City):
    dispatcher = browser_of("dispatcher")
    page = dispatcher.get("/console/payments/reconciliation")
    assert page.status_code == 200 and 'id="upload"' not in page.text
    refused = dispatcher.post(
        "/console/payments/reconciliation",
        data={"csrftoken": csrf_token(page.text), "gateway": "payme"},
        files={"file": ("s.csv", statement(paid, far=False), "text/csv")},
    )
    assert refused.status_code == 403
    assert 'id="upload"' in browser_of("admin").get("/console/payments/reconciliation").text


def test_an_admin_sees_the_difference_nobodys_account_makes(browser_of, paid: City):
    admin = browser_of("admin")
    extra = b"p-ghost,2026-11-03T14:00:00+05:00,1,NOBODY,performed\n"
    assert post_statement(admin, statement(paid) + extra, follow_redirects=False).status_code == 303
    page = admin.get("/console/payments/reconciliation", params={"gateway": "payme", "day": "2026-11-03"})
    assert "p-ghost" in page.text and 'data-kind="missing_in_ours"' in page.text
    assert "p-ghost" not in browser_of("manager").get("/console/payments/reconciliation").text


def test_officials_see_the_citys_payments_by_provider_day_and_company(browser_of, paid: City):
    official = browser_of("official")
    page = official.get("/city/payments", params={"from": "2026-11-01", "to": "2026-11-05"})
    assert page.status_code == 200
    assert 'href="/city/payments"' in page.text  # the city dashboard's tab
    assert 'data-day="2026-11-02" data-gateway="bank"' in page.text
    assert f'data-company="{paid.company_a.id}" data-gateway="payme"' in page.text
    assert f'data-company="{paid.company_b.id}" data-gateway="payme"' in page.text
    one = official.get("/city/payments", params={"company_id": paid.company_b.id, "from": "2026-11-01"})
    assert one.status_code == 200 and paid.company_b.name in one.text
    assert 'data-day="2026-11-03" data-gateway="click"' not in one.text  # company A's
    assert official.get("/city/payments", params={"company_id": 99999}).status_code == 404
    for who in ("manager", "resident"):
        assert browser_of(who).get("/city/payments").status_code == 403
    assert official.get("/console/payments").status_code == 403


@pytest.mark.parametrize("language", ["uz", "ru", "en"])
def test_the_pages_speak_each_language(browser_of, paid: City, language):
    admin = browser_of("admin")
    admin.cookies.set(LANGUAGE_COOKIE, language)
    for url in ("/console/payments", "/console/payments/daily", "/console/payments/reconciliation"):
        page = admin.get(url)
        assert page.status_code == 200 and f'<html lang="{language}">' in page.text


def test_a_statement_larger_than_a_form_is_uploaded_whole(browser_of, paid: City, session: Session):
    admin = browser_of("admin")
    rows = "".join(
        f"big-{n:05d},2026-11-04T10:00:00+05:00,1000.00,ACC-{n:05d},performed\n" for n in range(6000)
    )
    data = b"transaction_id,time,amount,account_number,state\n" + rows.encode()
    assert len(data) > 256 * 1024  # more than any form may carry
    answer = post_statement(admin, data, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    assert len(session.exec(select(ProviderStatementLine.id)).all()) == 6000
