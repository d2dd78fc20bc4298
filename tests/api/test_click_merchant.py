"""Click calling our SHOP-API (POST /api/v1/merchant/click/prepare and /complete) as Click does:
signed form posts (tests/standins/click_calls.py). Every answer is 200 with Click's JSON; the
books change only on a Prepare that opens, a Complete that performs or cancels. Runs on SQLite
and, with HOUSING_TEST_DATABASE_URL, on PostgreSQL."""

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from billing.ledger.service import balance
from billing.models import (
    Gateway,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    PaymentStatus,
)
from billing.payments import merchant
from billing.payments.click import service as click_service
from housing.app import create_app
from housing.notifications.models import Notification
from tests.api.conftest import City
from tests.conftest import make_settings
from tests.factories.billing import make_billed_invoice
from tests.standins.click_calls import (
    COMPLETE_URL,
    PREPARE_URL,
    Click,
    click_group,
    click_sign,
    complete_form,
    prepare_form,
)

MIN, MAX = 100_000, 50_000_000  # 1,000 and 500,000 UZS: the limits this server is given
SEPTEMBER, OCTOBER = 300_000, 500_000  # the resident's two unpaid invoices, in tiyin
NOW = datetime(2026, 11, 5, 9, 31, tzinfo=UTC)  # 14:31 in Tashkent, a minute after SIGN_TIME


@pytest.fixture
def click_app(database_url, db):
    settings = make_settings(database_url, click=click_group(min_amount_minor=MIN, max_amount_minor=MAX))
    return create_app(settings, engine=db)


@pytest.fixture
def click(click_app, frozen_clock) -> Iterator[Click]:
    frozen_clock.set(NOW)
    with TestClient(click_app) as client:
        yield Click(client)


@pytest.fixture
def debt(session: Session, city: City) -> tuple[Invoice, Invoice]:
    """Two unpaid invoices on the resident's home: September's and October's."""
    september = make_billed_invoice(session, city.home, SEPTEMBER, period=date(2026, 9, 1))
    october = make_billed_invoice(session, city.home, OCTOBER, period=date(2026, 10, 1))
    session.commit()
    return september, october


def attempts(session: Session) -> list[PaymentAttempt]:
    session.expire_all()
    return list(session.exec(select(PaymentAttempt).order_by(PaymentAttempt.id)))


def payments_booked(session: Session) -> list[LedgerEntry]:
    session.expire_all()
    return list(session.exec(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.payment)))


def books(session: Session) -> tuple:
    """Everything a call could change: payments with their states, and the ledger."""
    session.expire_all()
    rows = [
        (a.id, a.status, a.amount_minor, a.external_id, a.performed_at, a.canceled_at)
        for a in attempts(session)
    ]
    entries = session.exec(select(func.count()).select_from(LedgerEntry)).one()
    return rows, entries


# The happy path.


def test_prepare_then_complete_books_one_payment_oldest_invoice_first(click, session, city, debt):
    september, october = debt
    prepared = prepare_form(city.home.account_number, "4000.00")

    first = click.prepare(prepared)
    [attempt] = attempts(session)
    assert first == {
        "click_trans_id": int(prepared["click_trans_id"]),
        "merchant_trans_id": city.home.account_number,
        "merchant_prepare_id": attempt.id,
        "error": 0,
        "error_note": "Success",
    }
    assert attempt.status == PaymentStatus.pending and attempt.gateway == Gateway.click
    assert attempt.provider_time == datetime(2026, 11, 5, 9, 30, tzinfo=UTC)  # sign_time, Tashkent
    assert attempt.opened_at == NOW and payments_booked(session) == []

    done = click.complete(complete_form(prepared, attempt.id))
    assert done == {
        "click_trans_id": int(prepared["click_trans_id"]),
        "merchant_trans_id": city.home.account_number,
        "merchant_confirm_id": attempt.id,
        "error": 0,
        "error_note": "Success",
    }
    [entry] = payments_booked(session)
    assert (entry.amount_minor, entry.payment_attempt_id) == (-400_000, attempt.id)
    assert balance(session, city.home.id) == SEPTEMBER + OCTOBER - 400_000
    assert session.get(Invoice, september.id).status == InvoiceStatus.paid
    assert session.get(Invoice, october.id).status == InvoiceStatus.partially_paid
    [paid] = attempts(session)
    assert paid.status == PaymentStatus.succeeded and paid.performed_at == NOW

    told = session.exec(select(Notification).where(Notification.kind == "payment_received")).all()
    assert [(n.user_id, n.link) for n in told] == [(city.users["resident"], f"/payments/{attempt.id}")]

    listed = click.client.get(
        f"/api/v1/apartments/{city.home.id}/payments", headers=city.headers["resident"]
    ).json()["items"]
    assert [(p["gateway"], p["external_id"], p["status"], p["amount_minor"]) for p in listed] == [
        ("click", prepared["click_trans_id"], "succeeded", 400_000)
    ]


def test_more_than_the_debt_is_kept_as_prepayment(click, session, city, debt):
    click.pay(city.home.account_number, "10000.00")
    assert balance(session, city.home.id) == SEPTEMBER + OCTOBER - 1_000_000 < 0
    session.expire_all()
    assert {i.status for i in session.exec(select(Invoice))} == {InvoiceStatus.paid}


def test_an_account_in_credit_may_pay_again(click, session, city, debt):
    click.pay(city.home.account_number, "10000.00")
    _, again = click.pay(city.home.account_number, "1000.00")
    assert again["error"] == 0
    assert balance(session, city.home.id) == SEPTEMBER + OCTOBER - 1_100_000


def test_a_checkout_from_our_pay_page_is_taken_over_by_clicks_prepare(click, session, city, debt):
    checkout = merchant.start_checkout(
        session,
        Gateway.click,
        apartment_id=city.home.id,
        amount_minor=250_000,
        limits=merchant.Limits(MIN, MAX),
        user_id=city.users["resident"],
    )
    checkout.created_at = NOW  # the payer started it a minute ago, by the frozen clock
    session.commit()
    prepared = prepare_form(city.home.account_number, "2500")

    answer = click.prepare(prepared)
    assert answer["error"] == 0 and answer["merchant_prepare_id"] == checkout.id
    assert click.complete(complete_form(prepared, checkout.id))["error"] == 0
    [attempt] = attempts(session)
    assert (attempt.id, attempt.external_id, attempt.status) == (
        checkout.id,
        prepared["click_trans_id"],
        PaymentStatus.succeeded,
    )
    assert attempt.created_by_id == city.users["resident"]


def test_a_checkout_of_another_amount_is_left_alone(click, session, city, debt):
    checkout = merchant.start_checkout(
        session,
        Gateway.click,
        apartment_id=city.home.id,
        amount_minor=250_000,
        limits=merchant.Limits(MIN, MAX),
        user_id=city.users["resident"],
    )
    checkout.created_at = NOW
    session.commit()
    answer = click.prepare(prepare_form(city.home.account_number, "2500.01"))
    assert answer["error"] == 0 and answer["merchant_prepare_id"] != checkout.id
    assert [a.status for a in attempts(session)] == [PaymentStatus.created, PaymentStatus.pending]


# Click's cancel.


def test_a_complete_with_clicks_error_cancels_and_books_nothing(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]

    answer = click.complete(complete_form(prepared, payment_id, error="-5017", error_note="Card declined"))

    assert answer["error"] == -9 and answer["error_note"].startswith("Transaction cancelled")
    assert answer["merchant_confirm_id"] is None
    [attempt] = attempts(session)
    assert (attempt.status, attempt.cancel_reason, attempt.canceled_at) == (
        PaymentStatus.canceled,
        -5017,
        NOW,
    )
    assert payments_booked(session) == []
    assert balance(session, city.home.id) == SEPTEMBER + OCTOBER
    assert not session.exec(select(Notification).where(Notification.kind == "payment_received")).all()
    # Afterwards: the cancel again, a Complete and a Prepare of it are all "cancelled".
    assert click.complete(complete_form(prepared, payment_id, error="-5017"))["error"] == -9
    assert click.complete(complete_form(prepared, payment_id))["error"] == -9
    assert click.prepare(prepared)["error"] == -9
    assert payments_booked(session) == []


def test_clicks_cancel_after_a_complete_is_already_paid_and_reverses_nothing(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    assert click.complete(complete_form(prepared, payment_id))["error"] == 0

    answer = click.complete(complete_form(prepared, payment_id, error="-1"))

    assert answer["error"] == -4 and answer["merchant_confirm_id"] == payment_id
    assert [a.status for a in attempts(session)] == [PaymentStatus.succeeded]
    assert len(payments_booked(session)) == 1
    assert balance(session, city.home.id) == SEPTEMBER + OCTOBER - 400_000


def test_a_click_payment_handed_back_later_is_booked_by_staff_as_a_refund(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    completed = complete_form(prepared, payment_id)
    done = click.complete(completed)

    refund = click.client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        json={"amount_minor": 400_000, "reason": "reversed by Click at the payer's request"},
        headers=city.headers["manager"],
    )

    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "refunded" and refund.json()["refunded_minor"] == 400_000
    assert balance(session, city.home.id) == SEPTEMBER + OCTOBER
    # Click's late repeat of the Complete still hears what it heard; the refund stays.
    assert click.complete(completed) == done
    assert balance(session, city.home.id) == SEPTEMBER + OCTOBER


# Every call repeated: the same answer, nothing booked twice.


def test_every_call_repeated_gets_the_same_answer_and_books_once(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    first = click.prepare(prepared)
    assert click.prepare(prepared) == first
    completed = complete_form(prepared, first["merchant_prepare_id"])
    done = click.complete(completed)
    state = books(session)

    for _ in range(3):
        assert click.complete(completed) == done
    assert books(session) == state
    assert len(payments_booked(session)) == 1
    assert len(session.exec(select(Notification).where(Notification.kind == "payment_received")).all()) == 1


def test_a_prepare_repeated_with_another_amount_or_account_is_refused(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    trans_id = prepared["click_trans_id"]

    other_amount = click.prepare(prepare_form(city.home.account_number, "4000.01", click_trans_id=trans_id))
    other_account = click.prepare(
        prepare_form(city.neighbour.account_number, "4000.00", click_trans_id=trans_id)
    )

    assert (other_amount["error"], other_amount["merchant_prepare_id"]) == (-2, payment_id)
    assert other_account["error"] == -8
    assert [(a.apartment_id, a.amount_minor) for a in attempts(session)] == [(city.home.id, 400_000)]


# Out of order.


def test_a_complete_without_a_prepare_is_minus_6(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    answer = click.complete(complete_form(prepared, 1))
    assert answer["error"] == -6 and answer["merchant_confirm_id"] is None
    assert attempts(session) == []


def test_a_complete_with_someone_elses_prepare_id_is_minus_6(click, session, city, debt):
    mine = prepare_form(city.home.account_number, "4000.00")
    theirs = prepare_form(city.neighbour.account_number, "4000.00")
    click.prepare(mine)
    their_id = click.prepare(theirs)["merchant_prepare_id"]
    before = books(session)

    assert click.complete(complete_form(mine, their_id))["error"] == -6
    assert (
        click.complete(complete_form(theirs, their_id, merchant_trans_id=city.home.account_number))["error"]
        == -6
    )
    assert click.complete(complete_form(mine, their_id, error="-5017"))["error"] == -6  # no cancel either
    assert books(session) == before


def test_a_prepare_after_the_complete_is_already_paid(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    click.complete(complete_form(prepared, payment_id))

    answer = click.prepare(prepared)

    assert (answer["error"], answer["merchant_prepare_id"]) == (-4, payment_id)
    assert len(payments_booked(session)) == 1


# Amounts.


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("999.99", -2),
        ("1000", 0),
        ("1000.00", 0),
        ("500000.00", 0),
        ("500000.01", -2),
        ("0", -2),
        ("0.00", -2),
    ],
)
def test_the_amount_limits_come_from_the_settings(click, session, city, debt, amount, error):
    answer = click.prepare(prepare_form(city.home.account_number, amount))
    assert answer["error"] == error, answer
    assert len(attempts(session)) == (1 if error == 0 else 0)


def test_a_complete_of_another_amount_is_minus_2_and_the_right_one_still_completes(
    click, session, city, debt
):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]

    wrong = click.complete(complete_form(prepared, payment_id, amount="4000.01"))

    assert wrong["error"] == -2
    assert [a.status for a in attempts(session)] == [PaymentStatus.pending] and payments_booked(session) == []
    assert click.complete(complete_form(prepared, payment_id))["error"] == 0


def test_an_unknown_account_is_minus_5_and_opens_nothing(click, session, city, debt):
    for account in ("99999999", "  ", "x" * 40):
        answer = click.prepare(prepare_form(account, "4000.00"))
        assert answer["error"] == -5, (account, answer)
    assert attempts(session) == []


# Signatures: nothing changes without Click's.

SIGNED = ["click_trans_id", "service_id", "merchant_trans_id", "amount", "action", "sign_time", "sign_string"]


def _tampered(form: dict[str, str], name: str) -> dict[str, str]:
    value = form[name]
    return form | {name: value[:-1] + ("3" if value[-1] != "3" else "4")}


@pytest.mark.parametrize("name", SIGNED)
def test_one_character_changed_in_a_signed_prepare_field_is_minus_1(click, session, city, debt, name):
    answer = click.prepare(_tampered(prepare_form(city.home.account_number, "4000.00"), name))
    assert answer["error"] == -1 and answer["error_note"].startswith("SIGN CHECK FAILED!")
    assert attempts(session) == []


@pytest.mark.parametrize("name", [*SIGNED, "merchant_prepare_id"])
def test_one_character_changed_in_a_signed_complete_field_is_minus_1(click, session, city, debt, name):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    before = books(session)

    assert click.complete(_tampered(complete_form(prepared, payment_id), name))["error"] == -1
    assert click.complete(_tampered(complete_form(prepared, payment_id, error="-9"), name))["error"] == -1
    assert books(session) == before


def test_a_call_signed_with_the_other_actions_formula_is_minus_1(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00", merchant_prepare_id="1")
    prepared["sign_string"] = click_sign(prepared, complete=True)
    assert click.prepare(prepared)["error"] == -1
    good = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(good)["merchant_prepare_id"]
    completed = complete_form(good, payment_id)
    completed["sign_string"] = click_sign(completed, complete=False)
    assert click.complete(completed)["error"] == -1
    assert [a.status for a in attempts(session)] == [PaymentStatus.pending]


def test_a_call_of_the_other_action_is_minus_3(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    assert click.prepare(complete_form(prepared, payment_id))["error"] == -3
    assert click.complete(prepared)["error"] == -3
    assert [a.status for a in attempts(session)] == [PaymentStatus.pending]


def test_another_service_is_minus_8(click, session, city, debt):
    assert click.prepare(prepare_form(city.home.account_number, "4000.00", service_id="27182"))["error"] == -8
    assert attempts(session) == []


# Malformed calls: -8, always 200.

REQUIRED = [
    "click_trans_id",
    "service_id",
    "merchant_trans_id",
    "amount",
    "action",
    "sign_time",
    "sign_string",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_a_prepare_missing_a_field_is_minus_8(click, session, city, debt, name):
    form = prepare_form(city.home.account_number, "4000.00")
    del form[name]
    answer = click.prepare(form)
    assert answer["error"] == -8 and name in answer["error_note"]
    assert attempts(session) == []


@pytest.mark.parametrize("name", [*REQUIRED, "merchant_prepare_id", "error"])
def test_a_complete_missing_a_field_is_minus_8(click, session, city, debt, name):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    form = complete_form(prepared, payment_id)
    del form[name]
    assert click.complete(form)["error"] == -8
    assert [a.status for a in attempts(session)] == [PaymentStatus.pending]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", "application/x-www-form-urlencoded"),
        (b'{"click_trans_id": 1, "action": 0}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/octet-stream"),
        (b"amount=1&amount=2", "application/x-www-form-urlencoded"),
        (b"a" * (17 * 1024), "application/x-www-form-urlencoded"),  # over the routes' own 16 KB
        (b"a=" + b"1" * (300 * 1024), "application/x-www-form-urlencoded"),  # over the server's 256 KB
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ],
    ids=["empty", "json", "binary", "field twice", "17 KB", "300 KB", "broken multipart"],
)
@pytest.mark.parametrize("url", [PREPARE_URL, COMPLETE_URL])
def test_a_body_that_is_no_click_call_is_minus_8_with_200(click, session, url, content, content_type):
    response = click.client.post(url, content=content, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["error"] == -8 and answer["error_note"].startswith("Error in request from click")
    assert set(answer) == {
        "click_trans_id",
        "merchant_trans_id",
        "merchant_prepare_id" if url == PREPARE_URL else "merchant_confirm_id",
        "error",
        "error_note",
    }
    assert attempts(session) == []


def test_a_call_posted_as_multipart_is_read_too(click, session, city, debt):
    prepared = prepare_form(city.home.account_number, "4000.00")
    response = click.client.post(PREPARE_URL, files={k: (None, v) for k, v in prepared.items()})
    assert response.status_code == 200 and response.json()["error"] == 0
    assert len(attempts(session)) == 1


def test_a_call_carrying_a_browsers_cookies_is_answered_without_a_csrf_token(click, session, city, debt):
    click.client.cookies.set("csrftoken", "a-browser-token")
    click.client.cookies.set("session", "a-browser-session")
    answer = click.prepare(prepare_form(city.home.account_number, "4000.00"))
    assert answer["error"] == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("click_trans_id", "12a"),
        ("click_trans_id", str(2**63)),
        ("click_trans_id", "-7"),
        ("merchant_trans_id", "1000\x000001"),
        ("amount", "4000.001"),
        ("amount", "-4000"),
        ("amount", "NaN"),
        ("amount", "Infinity"),
        ("amount", "1" * 40),
        ("sign_time", "2026-13-01 00:00:00"),
        ("click_paydoc_id", "x"),
    ],
)
def test_a_hostile_value_is_minus_8_even_when_signed(click, session, city, debt, name, value):
    answer = click.prepare(prepare_form(city.home.account_number, "4000.00", **{name: value}))
    assert answer["error"] == -8, answer
    assert attempts(session) == []


def test_without_click_settings_every_call_is_minus_1_and_says_why(client, session, city, debt):
    response = client.post(PREPARE_URL, data=prepare_form(city.home.account_number, "4000.00"))
    assert response.status_code == 200
    answer = response.json()
    assert answer["error"] == -1 and "not configured" in answer["error_note"]
    assert attempts(session) == []


# Our own failures: logged, rolled back, -7; Click's retry then works.


def test_a_failure_of_ours_is_minus_7_and_rolled_back(click, session, city, debt, monkeypatch, caplog):
    prepared = prepare_form(city.home.account_number, "4000.00")
    payment_id = click.prepare(prepared)["merchant_prepare_id"]
    perform = merchant.perform_transaction

    def perform_then_fail(*args, **kw):
        perform(*args, **kw)  # the payment is booked in the session, then something breaks
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(click_service.merchant, "perform_transaction", perform_then_fail)
    with caplog.at_level(logging.ERROR, logger="billing.payments.click.endpoints"):
        answer = click.complete(complete_form(prepared, payment_id))

    assert answer["error"] == -7 and answer["error_note"].startswith("Failed to update user")
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
    assert [a.status for a in attempts(session)] == [PaymentStatus.pending] and payments_booked(session) == []
    monkeypatch.setattr(click_service.merchant, "perform_transaction", perform)
    assert click.complete(complete_form(prepared, payment_id))["error"] == 0
    assert len(payments_booked(session)) == 1


def test_each_call_leaves_one_log_line_with_its_answer(click, city, debt, caplog):
    with caplog.at_level(logging.INFO, logger="billing.payments.click.endpoints"):
        click.prepare(prepare_form(city.home.account_number, "4000.00", merchant_trans_id="1\n2"))
    [line] = [r.getMessage() for r in caplog.records if r.name == "billing.payments.click.endpoints"]
    assert line.startswith("click prepare ") and "answer=-8" in line and "\n" not in line


# Click's time is the city's time.


def test_a_payment_signed_at_local_midnight_is_on_that_local_day(click, session, city, debt):
    click.prepare(prepare_form(city.home.account_number, "4000.00", sign_time="2026-11-01 00:00:00"))
    [attempt] = attempts(session)
    assert attempt.provider_time == datetime(2026, 10, 31, 19, 0, tzinfo=UTC)


def test_the_routes_are_documented_as_forms_that_always_answer_200(click_app):
    spec = click_app.openapi()
    for url, answer in ((PREPARE_URL, "PrepareAnswer"), (COMPLETE_URL, "CompleteAnswer")):
        operation = spec["paths"][url]["post"]
        assert operation["tags"] == ["merchant"]
        assert list(operation["responses"]) == ["200"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(answer)
        form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert {"click_trans_id", "amount", "sign_time", "sign_string"} <= set(form["required"])
