"""One city day of money through every way in, reconciled that night (SQLite and PostgreSQL).

On a frozen 20 November 2026 a resident pays by card (the real local Stripe server and its
signed webhook), a neighbour pays through Payme (its Merchant API calls as Payme makes them)
and gives up a second Payme payment, a resident of another company's building pays through
Click (Prepare, Complete), and a bank statement books one more payment. Payme's and Click's
statement files of the day are imported. The night's `reconcile-gateways` job then finds
every gateway's day in agreement: each payment counted once, zero differences. A planted
line in Click's file that we never heard of is then found as the one difference.
"""

import io
import time
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from billing.ledger.service import balance
from billing.models import PaymentAttempt, PaymentStatus
from billing.payments.reconciliation.jobs import reconcile_gateways
from housing.app import create_app
from tests.conftest import make_settings
from tests.factories.billing import make_billed_invoice
from tests.integration import stripe_helpers
from tests.integration.stripe_helpers import GOOD_CARD, pay_with_card, serving_for_stripe, stripe_group
from tests.standins.click_calls import Click, click_group
from tests.standins.payme_calls import Payme, payme_group, transaction_id

DAY = date(2026, 11, 20)
MORNING = datetime(2026, 11, 20, 5, tzinfo=UTC)  # 10:00 in Tashkent
EVENING = datetime(2026, 11, 20, 18, tzinfo=UTC)  # 23:00 in Tashkent
NEXT_NIGHT = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 02:30 on the 21st in Tashkent
DEBT = 30_000_000  # 300,000.00 UZS on each account

localstripe = stripe_helpers.localstripe  # a fixture, found by name


@pytest.fixture
def settings(database_url, localstripe):
    return make_settings(
        database_url, stripe=stripe_group(localstripe), payme=payme_group(), click=click_group()
    )


@pytest.fixture
def live(settings, db, localstripe):
    """The app served for real (localstripe's webhooks come back to it), and a client of it."""
    app = create_app(settings, engine=db)
    with serving_for_stripe(app, localstripe), TestClient(app) as client:
        yield client


@pytest.fixture
def owing(session: Session, city):
    for apartment in (city.home, city.neighbour, city.far_away):
        make_billed_invoice(session, apartment, DEBT, period=date(2026, 10, 1))
    session.commit()
    return city


def wait_for(check, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)  # polling interval; the proof is the state read
    raise AssertionError(f"{what} did not happen in {timeout} s")


def status_of(db, attempt_id: int) -> str:
    with Session(db) as session:
        return session.get(PaymentAttempt, attempt_id).status


def upload(client, url: str, text: str, headers: dict[str, str], **form: str):
    files = {"file": ("statement.csv", io.BytesIO(text.encode()), "text/csv")}
    return client.post(url, files=files, data=form, headers=headers)


def statement(*lines: tuple[str, str, str, str, str]) -> str:
    rows = ["transaction_id,time,amount,account_number,state"] + [",".join(line) for line in lines]
    return "\n".join(rows) + "\n"


def test_a_day_through_every_gateway_reconciles_to_nothing_then_finds_the_planted_line(
    live, owing, db, localstripe, frozen_clock
):
    city = owing
    admin = city.headers["admin"]
    frozen_clock.set(MORNING)

    # A card through Stripe: the webhook books it.
    card = live.post(
        f"/api/v1/apartments/{city.home.id}/payments",
        json={"amount_minor": 12_000_000},
        headers=city.headers["resident"],
    )
    assert card.status_code == 201, card.text
    pay_with_card(localstripe, card.json()["external_id"], GOOD_CARD)
    wait_for(lambda: status_of(db, card.json()["id"]) == PaymentStatus.succeeded, "the card payment")

    # Payme: one paid, one created and cancelled before it was paid (no money moves).
    payme = Payme.through(live)
    paid_at_payme = payme.pay(city.neighbour.account_number, 5_000_000)
    given_up = transaction_id()
    assert payme.create(given_up, city.neighbour.account_number, 2_000_000).result["state"] == 1
    assert payme.cancel(given_up, reason=3).result["state"] == -1

    # Click: Prepare, then Complete.
    prepared, completed = Click(live).pay(
        city.far_away.account_number, "70000.00", sign_time="2026-11-20 10:05:00"
    )
    assert completed["error"] == 0, completed
    click_id = str(prepared["click_trans_id"])

    # A bank statement of the same day.
    bank = upload(
        live,
        "/api/v1/imports/bank-statements",
        f"date,account_number,amount,reference\n2026-11-20,{city.far_away.account_number},1000.00,BANK-20-1\n",
        admin,
    )
    assert bank.status_code == 201, bank.text

    # The providers' statement files of the day, as their cabinets give them that evening.
    frozen_clock.set(EVENING)
    payme_file = statement(
        (paid_at_payme, "2026-11-20T10:01:00+05:00", "50000.00", city.neighbour.account_number, "performed"),
        (given_up, "2026-11-20T10:02:00+05:00", "20000.00", city.neighbour.account_number, "cancelled"),
    )
    click_file = statement(
        (click_id, "2026-11-20T10:05:00+05:00", "70000.00", city.far_away.account_number, "performed")
    )
    for gateway, text in (("payme", payme_file), ("click", click_file)):
        imported = upload(live, "/api/v1/imports/provider-statements", text, admin, gateway=gateway)
        assert imported.status_code == 201, imported.text

    with Session(db) as session:
        assert balance(session, city.home.id) == DEBT - 12_000_000
        assert balance(session, city.neighbour.id) == DEBT - 5_000_000
        assert balance(session, city.far_away.id) == DEBT - 7_000_000 - 100_000
        paid = session.exec(
            select(PaymentAttempt.gateway).where(PaymentAttempt.status == PaymentStatus.succeeded)
        )
        assert sorted(paid) == ["bank", "click", "payme", "stripe"]

    # That night.
    frozen_clock.set(NEXT_NIGHT)
    summary = reconcile_gateways(db, live.app.state.settings, today=date(2026, 11, 21))
    assert "0 differences" in summary, summary
    runs = live.get(
        "/api/v1/reconciliations", params={"from": "2026-11-20", "to": "2026-11-20"}, headers=admin
    )
    assert runs.status_code == 200, runs.text
    by_gateway = {run["gateway"]: run for run in runs.json()["items"]}
    expected = {"stripe": 12_000_000, "payme": 5_000_000, "click": 7_000_000, "bank": 100_000}
    for gateway, paid_minor in expected.items():
        run = by_gateway[gateway]
        assert (run["day"], run["payments"], run["paid_minor"], run["differences"]) == (
            "2026-11-20",
            1,
            paid_minor,
            0,
        ), run
    assert by_gateway["payme"]["statement_lines"] == 2 and by_gateway["click"]["statement_lines"] == 1
    differences = live.get("/api/v1/reconciliation-differences", params={"from": "2026-11-20"}, headers=admin)
    assert differences.json()["items"] == []

    # Click's file names a payment we never heard of: the day is reconciled again on import.
    planted = statement(
        ("990000001", "2026-11-20T18:40:00+05:00", "10000.00", city.far_away.account_number, "performed")
    )
    imported = upload(live, "/api/v1/imports/provider-statements", planted, admin, gateway="click")
    assert imported.status_code == 201, imported.text
    assert imported.json()["differences"] == 1
    found = live.get(
        "/api/v1/reconciliation-differences", params={"from": "2026-11-20"}, headers=admin
    ).json()
    assert [
        (d["gateway"], d["day"], d["kind"], d["external_id"], d["ours_minor"], d["theirs_minor"])
        for d in found["items"]
    ] == [("click", "2026-11-20", "missing_in_ours", "990000001", None, 1_000_000)]
    # Nothing was booked from the file: the ledger still holds what the gateways said.
    with Session(db) as session:
        assert balance(session, city.far_away.id) == DEBT - 7_000_000 - 100_000
