"""Payme's Merchant API as Payme calls it (tests/standins/payme_calls.py): the documented
sequences, repeats, calls out of order, the 12-hour timeout on a frozen clock, wrong amounts and
accounts, bad sign-ins and bodies (each answered HTTP 200 and changing nothing), prepayment,
GetStatement's window, and a payer's checkout taken over. SQLite and PostgreSQL alike.
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

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
from housing.accounts.models import Role
from housing.app import create_app
from housing.notifications.models import Notification
from housing.registry.models import Apartment
from tests.conftest import make_settings
from tests.factories.billing import make_billed_invoice
from tests.factories.core import login, make_apartment, make_owner, make_user
from tests.faults import allow_inserts, refuse_inserts
from tests.standins.payme_calls import FIELD, URL, Payme, basic, ms, payme_group, transaction_id

MIN, MAX = 100_000, 50_000_000  # 1,000 and 500,000 UZS
DEBT = 600_000  # two invoices of 3,000 UZS
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TWELVE_HOURS = timedelta(milliseconds=43_200_000)
MS = timedelta(milliseconds=1)


@pytest.fixture
def settings(database_url):
    """The app of every test here takes Payme, with limits of its own."""
    return make_settings(database_url, payme=payme_group(min_amount_minor=MIN, max_amount_minor=MAX))


@pytest.fixture
def payme(client) -> Payme:
    return Payme.through(client)


@dataclass
class Household:
    apartment: Apartment
    account: str
    older: Invoice
    newer: Invoice
    resident_id: int
    resident_name: str


@pytest.fixture
def home(session: Session, client) -> Household:
    apartment = make_apartment(session)
    owner = make_owner(session, apartment)
    resident = make_user(session, Role.resident, person_id=owner.id)
    older = make_billed_invoice(session, apartment, 300_000, period=date(2026, 9, 1))
    newer = make_billed_invoice(session, apartment, 300_000, period=date(2026, 10, 1))
    session.commit()
    return Household(apartment, apartment.account_number, older, newer, resident.id, resident.username)


def entries(session: Session, apartment_id: int) -> list[tuple[LedgerKind, int]]:
    session.expire_all()
    rows = session.exec(
        select(LedgerEntry.kind, LedgerEntry.amount_minor)
        .where(LedgerEntry.apartment_id == apartment_id, LedgerEntry.kind != LedgerKind.charge)
        .order_by(col(LedgerEntry.id))
    ).all()
    return [(LedgerKind(kind), amount) for kind, amount in rows]


def statuses(session: Session, home: Household) -> tuple[InvoiceStatus, InvoiceStatus]:
    session.expire_all()
    return (
        InvoiceStatus(session.get(Invoice, home.older.id).status),
        InvoiceStatus(session.get(Invoice, home.newer.id).status),
    )


def payme_rows(session: Session) -> list[PaymentAttempt]:
    session.expire_all()
    return list(session.exec(select(PaymentAttempt).where(PaymentAttempt.gateway == Gateway.payme)).all())


def notices(session: Session, kind: str) -> int:
    return session.exec(select(func.count()).select_from(Notification).where(Notification.kind == kind)).one()


# The documented sequences


def test_check_create_perform_books_one_payment_oldest_invoice_first(
    client, payme, home, session, frozen_clock
):
    frozen_clock.set(T0)
    tid = transaction_id()

    assert payme.check_perform(home.account, 400_000).result == {"allow": True}
    created = payme.create(tid, home.account, 400_000).result
    frozen_clock.set(T0 + timedelta(seconds=30))
    performed = payme.perform(tid).result

    (attempt,) = payme_rows(session)
    assert created == {"create_time": ms(T0), "transaction": str(attempt.id), "state": 1}
    assert performed == {
        "transaction": str(attempt.id),
        "perform_time": ms(T0 + timedelta(seconds=30)),
        "state": 2,
    }
    assert entries(session, home.apartment.id) == [(LedgerKind.payment, -400_000)]
    assert balance(session, home.apartment.id) == DEBT - 400_000
    assert statuses(session, home) == (InvoiceStatus.paid, InvoiceStatus.partially_paid)
    assert notices(session, "payment_received") == 1
    listed = client.get(
        f"/api/v1/apartments/{home.apartment.id}/payments", headers=login(client, home.resident_name)
    ).json()["items"]
    assert [(p["gateway"], p["external_id"], p["status"], p["amount_minor"]) for p in listed] == [
        ("payme", tid, "succeeded", 400_000)
    ]
    assert payme.check(tid).result == {
        "create_time": ms(T0),
        "perform_time": ms(T0 + timedelta(seconds=30)),
        "cancel_time": 0,
        "transaction": str(attempt.id),
        "state": 2,
        "reason": None,
    }


def test_create_then_cancel_is_state_minus_one_and_books_nothing(payme, home, session, frozen_clock):
    frozen_clock.set(T0)
    tid = transaction_id()
    payme.create(tid, home.account, 400_000)
    frozen_clock.set(T0 + timedelta(minutes=5))

    cancelled = payme.cancel(tid, reason=2).result

    (attempt,) = payme_rows(session)
    assert cancelled == {"transaction": str(attempt.id), "cancel_time": ms(frozen_clock.moment), "state": -1}
    assert payme.check(tid).result == {
        "create_time": ms(T0),
        "perform_time": 0,
        "cancel_time": ms(T0 + timedelta(minutes=5)),
        "transaction": str(attempt.id),
        "state": -1,
        "reason": 2,
    }
    assert entries(session, home.apartment.id) == []
    assert balance(session, home.apartment.id) == DEBT
    assert notices(session, "payment_received") == 0


def test_cancel_after_perform_refunds_in_the_ledger_and_the_debt_comes_back(
    payme, home, session, frozen_clock
):
    frozen_clock.set(T0)
    tid = payme.pay(home.account, 400_000)
    frozen_clock.set(T0 + timedelta(days=2))

    cancelled = payme.cancel(tid, reason=5).result

    assert cancelled["state"] == -2 and cancelled["cancel_time"] == ms(T0 + timedelta(days=2))
    assert entries(session, home.apartment.id) == [
        (LedgerKind.payment, -400_000),
        (LedgerKind.refund, 400_000),
    ]
    assert balance(session, home.apartment.id) == DEBT
    assert statuses(session, home) == (InvoiceStatus.issued, InvoiceStatus.issued)
    assert notices(session, "payment_refunded") == 1
    checked = payme.check(tid).result
    assert (checked["state"], checked["reason"], checked["perform_time"]) == (-2, 5, ms(T0))
    assert payme_rows(session)[0].status == PaymentStatus.refunded


# Every call again: the same answer, nothing twice


def test_every_call_repeated_gives_the_same_answer_and_books_once(payme, home, session, frozen_clock):
    frozen_clock.set(T0)
    tid = transaction_id()
    answers = []
    for step in (
        lambda: payme.check_perform(home.account, 400_000),
        lambda: payme.create(tid, home.account, 400_000, time=T0),
        lambda: payme.perform(tid),
        lambda: payme.check(tid),
        lambda: payme.cancel(tid, reason=5),
        lambda: payme.check(tid),
        lambda: payme.statement(ms(T0), ms(T0)),
    ):
        first = step().body
        frozen_clock.set(frozen_clock.moment + timedelta(minutes=1))  # a later repeat: the same moments
        again = step().body
        assert {k: v for k, v in first.items() if k != "id"} == {k: v for k, v in again.items() if k != "id"}
        answers.append(first)

    assert entries(session, home.apartment.id) == [
        (LedgerKind.payment, -400_000),
        (LedgerKind.refund, 400_000),
    ]
    assert notices(session, "payment_received") == notices(session, "payment_refunded") == 1
    assert len(payme_rows(session)) == 1
    assert answers[-1]["result"]["transactions"][0]["state"] == -2


def test_a_repeated_create_must_name_the_same_amount_and_account(payme, home, session):
    tid = transaction_id()
    other = make_apartment(session)
    session.commit()
    payme.create(tid, home.account, 400_000)

    assert (payme.create(tid, home.account, 400_001).code, payme.create(tid, home.account, 400_001).data) == (
        -31001,
        "amount",
    )
    assert payme.create(tid, other.account_number, 400_000).code == -31050
    assert payme.create(tid, home.account, 400_000).result["state"] == 1
    assert len(payme_rows(session)) == 1


# Out of order


def test_calls_out_of_order_get_the_documented_answers(payme, home, session):
    unknown = transaction_id()
    assert payme.perform(unknown).code == -31003
    assert payme.cancel(unknown).code == -31003
    assert payme.check(unknown).code == -31003

    cancelled = transaction_id()
    payme.create(cancelled, home.account, 200_000)
    first = payme.cancel(cancelled, reason=3).result
    assert payme.perform(cancelled).code == -31008
    assert payme.create(cancelled, home.account, 200_000).code == -31008
    assert payme.cancel(cancelled, reason=5).result == first  # the first cancel's answer, reason kept
    assert payme.check(cancelled).result["reason"] == 3

    performed = payme.pay(home.account, 200_000)
    assert payme.create(performed, home.account, 200_000).code == -31008
    payme.cancel(performed, reason=5)
    assert payme.perform(performed).code == -31008  # cancelled after perform
    assert entries(session, home.apartment.id) == [
        (LedgerKind.payment, -200_000),
        (LedgerKind.refund, 200_000),
    ]


# The 12 hours


@pytest.mark.parametrize("late", [timedelta(0), MS], ids=["exactly 12 h", "12 h and 1 ms"])
def test_perform_is_in_time_up_to_twelve_hours_after_create(payme, home, session, frozen_clock, late):
    frozen_clock.set(T0)
    in_time, too_late = transaction_id(), transaction_id()
    payme.create(in_time, home.account, 150_000)
    payme.create(too_late, home.account, 250_000)

    frozen_clock.set(T0 + TWELVE_HOURS - MS)
    assert payme.perform(in_time).result["state"] == 2
    frozen_clock.set(T0 + TWELVE_HOURS + late)
    answer = payme.perform(too_late)

    if late:
        assert answer.code == -31008
        checked = payme.check(too_late).result  # the cancel was committed with the error answer
        assert (checked["state"], checked["reason"]) == (-1, 4)
        assert checked["cancel_time"] == ms(T0 + TWELVE_HOURS + late) and checked["perform_time"] == 0
        assert payme.perform(too_late).code == -31008
        assert entries(session, home.apartment.id) == [(LedgerKind.payment, -150_000)]
    else:
        assert answer.result["state"] == 2
        assert len(entries(session, home.apartment.id)) == 2


def test_a_create_repeated_after_twelve_hours_cancels_with_reason_four(payme, home, session, frozen_clock):
    frozen_clock.set(T0)
    tid = transaction_id()
    payme.create(tid, home.account, 150_000, time=T0)
    frozen_clock.set(T0 + TWELVE_HOURS + MS)

    assert payme.create(tid, home.account, 150_000, time=T0).code == -31008

    (attempt,) = payme_rows(session)
    assert (attempt.status, attempt.cancel_reason) == (PaymentStatus.canceled, 4)
    assert payme.cancel(tid, reason=5).result["state"] == -1  # already cancelled: the same answer


def test_a_late_transaction_may_still_be_cancelled_by_payme_with_its_own_reason(payme, home, frozen_clock):
    frozen_clock.set(T0)
    tid = transaction_id()
    payme.create(tid, home.account, 150_000)
    frozen_clock.set(T0 + timedelta(days=1))

    assert payme.cancel(tid, reason=4).result["state"] == -1
    assert payme.check(tid).result["reason"] == 4


# Amounts and accounts


@pytest.mark.parametrize(
    ("amount", "code", "data"),
    [
        (MIN - 1, -31001, "amount"),
        (MAX + 1, -31001, "amount"),
        (0, -31001, "amount"),
        (-500_000, -31001, "amount"),
        (100_000.5, -31001, "amount"),
        (10**40, -31001, "amount"),
        ("500000", -32600, "params.amount"),
        (True, -32600, "params.amount"),
        (None, -32600, "params.amount"),
        ({"value": 500_000}, -32600, "params.amount"),
    ],
)
def test_a_wrong_amount_is_refused_and_opens_nothing(payme, home, session, amount, code, data):
    tid = transaction_id()
    check = payme.call("CheckPerformTransaction", {"amount": amount, "account": {FIELD: home.account}})
    create = payme.call(
        "CreateTransaction", {"id": tid, "time": ms(T0), "amount": amount, "account": {FIELD: home.account}}
    )

    assert (check.code, check.data) == (create.code, create.data) == (code, data)
    assert payme_rows(session) == []


@pytest.mark.parametrize("amount", [b"1e999999999", b"1e-999999999", b"-0.0", b"1E+15000"])
def test_an_amount_of_absurd_exponent_is_a_wrong_amount(payme, home, session, amount):
    params = b'{"amount": %s, "account": {"%s": "%s"}}' % (amount, FIELD.encode(), home.account.encode())
    answer = payme.send(b'{"id": 3, "method": "CheckPerformTransaction", "params": %s}' % params)
    assert (answer.code, answer.data) == (-31001, "amount")


@pytest.mark.parametrize("amount", [MIN, MAX, 500_000.0])
def test_the_limits_themselves_and_a_whole_number_written_as_a_float_are_accepted(
    payme, home, session, amount
):
    tid = transaction_id()
    assert payme.check_perform(home.account, amount).result == {"allow": True}
    assert payme.create(tid, home.account, amount).result["state"] == 1
    assert payme_rows(session)[0].amount_minor == int(amount)


@pytest.mark.parametrize(
    "account",
    [
        {FIELD: "99999999999"},  # nobody's
        {FIELD: ""},
        {FIELD: "   "},
        {FIELD: "1000\x0001"},
        {FIELD: "\ud800"},
        {FIELD: "x" * 5000},
        {FIELD: True},
        {FIELD: ["1"]},
        {"order_id": "1"},  # another field than the cabinet's
        {},
    ],
)
def test_an_unknown_account_is_31050_naming_the_field(payme, home, session, account):
    check = payme.call("CheckPerformTransaction", {"amount": 500_000, "account": account})
    create = payme.call(
        "CreateTransaction", {"id": transaction_id(), "time": ms(T0), "amount": 500_000, "account": account}
    )
    assert (check.code, check.data) == (create.code, create.data) == (-31050, FIELD)
    assert payme_rows(session) == []


def test_the_account_may_come_as_a_number_and_with_spaces(payme, home):
    assert payme.call(
        "CheckPerformTransaction", {"amount": 500_000, "account": {FIELD: int(home.account)}}
    ).result == {"allow": True}
    assert payme.check_perform(f"  {home.account} ", 500_000).result == {"allow": True}


def test_a_payment_over_the_debt_stays_as_prepayment(payme, home, session):
    payme.pay(home.account, 1_000_000)
    assert balance(session, home.apartment.id) == DEBT - 1_000_000 == -400_000
    assert statuses(session, home) == (InvoiceStatus.paid, InvoiceStatus.paid)

    payme.pay(home.account, 200_000)  # an account in credit still takes a payment
    assert balance(session, home.apartment.id) == -600_000


def test_an_account_with_nothing_owed_takes_a_payment(payme, session):
    apartment = make_apartment(session)
    session.commit()
    payme.pay(apartment.account_number, 300_000)
    assert balance(session, apartment.id) == -300_000


# Sign-in and bodies: answered 200, nothing changed


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        basic("wrong-key"),
        basic("payme-cashbox-key-for-tests-012345678"),  # one character short
        basic(""),
        {"Authorization": basic()["Authorization"].replace("Basic", "Bearer")},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + "QQ" * 800},
        {"Authorization": "Basic UGF5Y29t"},  # "Paycom" without a colon and key
        {"Authorization": "Basic"},
        {"Authorization": "Basic \u00e9\u00e9".encode("latin-1")},
    ],
    ids=[
        "empty",
        "wrong key",
        "key one short",
        "no key",
        "bearer",
        "garbage",
        "long",
        "no colon",
        "no credentials",
        "not ascii",
    ],
)
def test_a_bad_sign_in_is_32504_and_changes_nothing(client, home, session, headers):
    payme = Payme.through(client)
    tid = transaction_id()
    answers = [
        payme.call("CreateTransaction", params, headers)
        for params in (
            {"id": tid, "time": ms(T0), "amount": 400_000, "account": {FIELD: home.account}},
            {"id": tid},
        )
    ]
    assert [a.code for a in answers] == [-32504, -32504]
    assert payme_rows(session) == []


def test_no_authorization_header_at_all_is_32504(client, home, session):
    status_and_body = client.post(URL, json={"id": 7, "method": "CheckTransaction", "params": {"id": "a"}})
    assert status_and_body.status_code == 200
    assert status_and_body.json()["error"]["code"] == -32504 and status_and_body.json()["id"] == 7


def test_the_login_is_not_checked_only_the_key(payme, home):
    answer = payme.call(
        "CheckPerformTransaction", {"amount": 500_000, "account": {FIELD: home.account}}, basic(login="x")
    )
    assert answer.result == {"allow": True}


def test_a_server_without_payme_says_so_with_32504(database_url, db, home):
    app = create_app(make_settings(database_url), engine=db)
    with TestClient(app) as client:
        answer = Payme.through(client).check_perform(home.account, 500_000)
    assert answer.code == -32504
    assert answer.body["error"]["message"]["en"] == "Payme payments are not configured on this server"


@pytest.mark.parametrize(
    ("body", "code", "data"),
    [
        (b"", -32700, None),
        (b"not json", -32700, None),
        (b'{"id": 1, "method": ', -32700, None),
        (b"\xff\xfe\x00garbage", -32700, None),
        (b'{"id": 1, "method": "CheckTransaction", "params": {"id": NaN}}', -32700, None),
        (b"[" * 10_000 + b"]" * 10_000, -32700, None),
        (b'{"id": ' + b"9" * 5000 + b"}", -32700, None),
        (b"[]", -32600, None),
        (b'"CheckTransaction"', -32600, None),
        (b'{"method": "CheckTransaction", "params": {"id": "a"}}', -32600, "id"),
        (b'{"id": 1.5, "method": "CheckTransaction", "params": {"id": "a"}}', -32600, "id"),
        (b'{"id": true, "method": "CheckTransaction", "params": {"id": "a"}}', -32600, "id"),
        (b'{"id": {"a": 1}, "method": "CheckTransaction", "params": {"id": "a"}}', -32600, "id"),
        (b'{"id": 1, "params": {"id": "a"}}', -32600, "method"),
        (b'{"id": 1, "method": 5, "params": {"id": "a"}}', -32600, "method"),
        (b'{"id": 1, "method": "CheckTransaction"}', -32600, "params"),
        (b'{"id": 1, "method": "CheckTransaction", "params": [1]}', -32600, "params"),
        (b'{"id": 1, "method": "Nope", "params": {}}', -32601, "Nope"),
        (b'{"id": 1, "method": "checktransaction", "params": {}}', -32601, "checktransaction"),
        (b'{"id": 1, "method": "ChangePassword", "params": {"password": "x"}}', -32601, "ChangePassword"),
        (b'{"id": 1, "method": "Nope\\u0000", "params": {}}', -32601, None),
        (b'{"id": 1, "method": "CheckTransaction", "params": {}}', -32600, "params.id"),
        (b'{"id": 1, "method": "CheckTransaction", "params": {"id": 5}}', -32600, "params.id"),
        (b'{"id": 1, "method": "CheckTransaction", "params": {"id": "a b"}}', -32600, "params.id"),
        (b'{"id": 1, "method": "CheckTransaction", "params": {"id": "\\u00e9"}}', -32600, "params.id"),
        (
            b'{"id": 1, "method": "CancelTransaction", "params": {"id": "a", "reason": 6}}',
            -32600,
            "params.reason",
        ),
        (b'{"id": 1, "method": "CancelTransaction", "params": {"id": "a"}}', -32600, "params.reason"),
        (b'{"id": 1, "method": "GetStatement", "params": {"from": 0, "to": 1}}', -32600, "params.from"),
        (b'{"id": 1, "method": "GetStatement", "params": {"from": 1790000000000}}', -32600, "params.to"),
    ],
)
def test_a_malformed_call_gets_its_code_and_changes_nothing(payme, home, session, body, code, data):
    answer = payme.send(body)
    assert (answer.code, answer.data) == (code, data), answer.body
    assert payme_rows(session) == []


def test_the_answer_carries_the_calls_id_whatever_its_type(payme, home):
    for request_id in (0, -5, 2**53, "abc-1"):
        body = json.dumps({"id": request_id, "method": "CheckTransaction", "params": {"id": "nope"}})
        answer = payme.send(body.encode())
        assert (answer.body["id"], answer.code) == (request_id, -31003)


def test_extra_fields_are_ignored(payme, home, session):
    tid = transaction_id()
    params = {
        "id": tid,
        "time": ms(T0),
        "amount": 400_000,
        "account": {FIELD: home.account, "phone": "998901234567"},
        "payer": {"phone": "998901234567"},
        "nested": [[[{"junk": None}]]],
    }
    assert payme.call("CreateTransaction", params).result["state"] == 1
    assert payme_rows(session)[0].external_id == tid


def test_what_the_app_refuses_before_the_route_is_still_json_rpc(client, home):
    huge = client.post(
        URL, content=b"x" * (1024 * 1024 + 1), headers=basic() | {"Content-Type": "application/json"}
    )
    over_our_cap = client.post(URL, content=b" " * (64 * 1024 + 1), headers=basic())
    read = client.get(URL)
    for answer, code in ((huge, -32600), (over_our_cap, -32600), (read, -32300)):
        assert answer.status_code == 200, answer.text
        assert answer.json()["error"]["code"] == code


def test_a_stray_cookie_does_not_turn_payme_away(client, payme, home):
    client.cookies.set("session", "whatever")
    assert payme.check_perform(home.account, 500_000).result == {"allow": True}


def test_an_unexpected_failure_is_32400_and_rolled_back(payme, home, session, db, caplog):
    tid = transaction_id()
    payme.create(tid, home.account, 400_000)
    refuse_inserts(db, "ledger_entry")
    try:
        with caplog.at_level(logging.ERROR, logger="billing.payments.payme.endpoints"):
            failed = payme.perform(tid)
    finally:
        allow_inserts(db, "ledger_entry")

    assert failed.code == -32400
    assert any(r.exc_info for r in caplog.records), "the failure is logged with its traceback"
    assert payme_rows(session)[0].status == PaymentStatus.pending  # rolled back: Payme may try again
    assert payme.perform(tid).result["state"] == 2
    assert entries(session, home.apartment.id) == [(LedgerKind.payment, -400_000)]


def test_each_call_leaves_one_log_line(payme, home, caplog):
    tid, unknown, refused = transaction_id(), transaction_id(), transaction_id()
    with caplog.at_level(logging.INFO, logger="billing.payments.payme.endpoints"):
        payme.create(tid, home.account, 400_000)
        payme.perform(unknown)
        payme.create(refused, "no-such-account", 400_000)
        payme.call("CheckTransaction", {"id": refused}, basic("wrong"))
        payme.call("Check\nTransaction", {"id": "a\nb"})
    lines = [r for r in caplog.records if r.name == "billing.payments.payme.endpoints"]
    assert [(r.method, r.transaction, r.outcome, r.code, r.levelno) for r in lines] == [
        ("CreateTransaction", tid, "result", 0, logging.INFO),
        ("PerformTransaction", unknown, "error", -31003, logging.INFO),
        ("CreateTransaction", refused, "error", -31050, logging.INFO),
        ("CheckTransaction", refused, "error", -32504, logging.WARNING),
        ("", "", "error", -32601, logging.WARNING),  # what cannot be shown on one line is not
    ]
    assert all("\n" not in r.getMessage() for r in lines)
    assert "payme-cashbox-key" not in caplog.text


# Refunds at the office


def test_a_payment_handed_back_at_the_office_cannot_be_cancelled_by_payme(client, payme, home, session):
    admin = make_user(session, Role.admin)
    session.commit()
    in_part, in_full = payme.pay(home.account, 400_000), payme.pay(home.account, 300_000)
    rows = {row.external_id: row.id for row in payme_rows(session)}
    staff = login(client, admin.username)
    for tid, amount in ((in_part, 100_000), (in_full, 300_000)):
        refunded = client.post(
            f"/api/v1/payments/{rows[tid]}/refunds",
            json={"amount_minor": amount, "reason": "handed back at the office"},
            headers=staff,
        )
        assert refunded.status_code == 201, refunded.text
    before = entries(session, home.apartment.id)

    assert payme.cancel(in_part, reason=5).code == -31007
    assert payme.cancel(in_full, reason=5).code == -31007
    assert payme.check(in_full).result["state"] == 2  # Payme never cancelled it
    assert entries(session, home.apartment.id) == before


# GetStatement


def test_get_statement_lists_payme_time_within_from_and_to_inclusive(payme, home, session, frozen_clock):
    frozen_clock.set(T0)
    t1, t2, t3 = T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    ids = [transaction_id() for _ in range(3)]
    for tid, moment in zip(ids, (t1, t2, t3), strict=True):
        payme.create(tid, home.account, 200_000, time=moment)
    payme.perform(ids[0])
    payme.cancel(ids[1], reason=3)

    def listed(start: int, end: int) -> list[str]:
        return [t["id"] for t in payme.statement(start, end).result["transactions"]]

    assert listed(ms(t1), ms(t3)) == ids
    assert listed(ms(t1), ms(t2)) == ids[:2]
    assert listed(ms(t1) + 1, ms(t3) - 1) == [ids[1]]
    assert listed(ms(t3) + 1, ms(t3) + 10_000) == []
    assert listed(ms(t2), ms(t2)) == [ids[1]]
    rows = {row.external_id: row.id for row in payme_rows(session)}
    first, second = payme.statement(ms(t1), ms(t2)).result["transactions"]
    assert first == {
        "id": ids[0],
        "time": ms(t1),
        "amount": 200_000,
        "account": {FIELD: home.account},
        "create_time": ms(T0),
        "perform_time": ms(T0),
        "cancel_time": 0,
        "transaction": str(rows[ids[0]]),
        "state": 2,
        "reason": None,
        "receivers": None,
    }
    assert (second["state"], second["reason"], second["perform_time"]) == (-1, 3, 0)


def test_get_statement_leaves_out_other_gateways_and_checkouts(payme, home, session):
    merchant.start_checkout(
        session,
        Gateway.payme,
        apartment_id=home.apartment.id,
        amount_minor=500_000,
        limits=merchant.Limits(MIN, MAX),
        user_id=home.resident_id,
    )
    session.commit()
    assert payme.statement(ms(T0 - timedelta(days=365)), ms(T0 + timedelta(days=365))).result == {
        "transactions": []
    }


# The payer's checkout


def test_a_checkout_of_the_same_account_and_amount_is_taken_over_by_create(payme, home, session):
    limits = merchant.Limits(MIN, MAX)
    checkout = merchant.start_checkout(
        session, Gateway.payme, apartment_id=home.apartment.id, amount_minor=400_000, limits=limits,
        user_id=home.resident_id,
    )  # fmt: skip
    session.commit()

    other_amount = transaction_id()
    assert payme.create(other_amount, home.account, 300_000).result["transaction"] != str(checkout.id)
    tid = transaction_id()
    assert payme.create(tid, home.account, 400_000).result["transaction"] == str(checkout.id)
    payme.perform(tid)

    session.expire_all()
    taken = session.get(PaymentAttempt, checkout.id)
    assert (taken.external_id, taken.status, taken.created_by_id) == (
        tid,
        PaymentStatus.succeeded,
        home.resident_id,
    )
    assert len(payme_rows(session)) == 2
    assert entries(session, home.apartment.id) == [(LedgerKind.payment, -400_000)]


def test_the_operation_is_documented_as_always_200(app):
    operation = app.openapi()["paths"][URL]["post"]
    assert list(operation["responses"]) == ["200"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "id",
        "method",
        "params",
    ]
    assert operation["tags"] == ["merchant"]
