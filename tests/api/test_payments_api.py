"""Payment routes without Stripe: bank and office payments, statements, scoping, and the 503 for cards."""

from datetime import date

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from billing.ledger.service import balance
from billing.models import Invoice, InvoiceStatus, PaymentAttempt
from housing import cli
from tests.factories.billing import make_billed_invoice

TOTAL = 51_000_000


@pytest.fixture
def billed(session: Session, city):
    invoice = make_billed_invoice(session, city.home, TOTAL, period=date(2026, 10, 1))
    session.commit()
    return invoice


def test_card_payments_say_why_they_are_unavailable_without_stripe(client, city, billed):
    paid = client.post(
        f"/api/v1/apartments/{city.home.id}/payments",
        json={"amount_minor": 1000},
        headers=city.headers["resident"],
    )
    webhook = client.post("/api/v1/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})

    for answer in (paid, webhook):
        assert answer.status_code == 503
        assert "Stripe is not configured" in answer.json()["detail"]
    balance_seen = client.get(f"/api/v1/apartments/{city.home.id}/balance", headers=city.headers["resident"])
    assert balance_seen.status_code == 200 and balance_seen.json()["balance_minor"] == TOTAL


def manual(client, city, who, apartment, **body):
    payload = {
        "amount_minor": 20_000_000,
        "gateway": "office",
        "reference": "KASSA-0001",
        "paid_on": "2026-11-10",
    }
    return client.post(
        f"/api/v1/apartments/{apartment.id}/payments/manual", json=payload | body, headers=city.headers[who]
    )


def test_a_manager_records_an_office_payment_once(client, city, billed, session):
    first = manual(client, city, "manager", city.home)
    again = manual(client, city, "manager", city.home)

    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded" and first.json()["gateway"] == "office"
    assert again.status_code == 409 and "already recorded" in again.json()["detail"]
    session.expire_all()
    assert balance(session, city.home.id) == TOTAL - 20_000_000
    assert session.get(Invoice, billed.id).status == InvoiceStatus.partially_paid
    mine = client.get(f"/api/v1/apartments/{city.home.id}/payments", headers=city.headers["resident"]).json()
    assert [p["reference"] if "reference" in p else p["external_id"] for p in mine["items"]] == ["KASSA-0001"]


@pytest.mark.parametrize(
    ("who", "apartment", "status"),
    [
        ("manager_b", "home", 404),  # another company's apartment
        ("resident", "home", 403),  # residents pay by card, they do not record payments
        ("official", "home", 403),
        ("manager", "far_away", 404),
    ],
)
def test_recording_a_payment_outside_ones_scope_is_refused(
    client, city, billed, session, who, apartment, status
):
    answer = manual(client, city, who, getattr(city, apartment))

    assert answer.status_code == status
    assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 0


def test_a_future_or_unknown_gateway_payment_is_refused(client, city, billed, session):
    future = manual(client, city, "manager", city.home, paid_on="2099-01-01")
    stripe = manual(client, city, "manager", city.home, gateway="stripe")
    blank = manual(client, city, "manager", city.home, reference="  ")

    assert future.status_code == 422 and "in the future" in future.json()["detail"]
    assert stripe.status_code == 422 and "arrive through Stripe" in stripe.json()["detail"]
    assert blank.status_code == 422
    assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 0
    assert balance(session, city.home.id) == TOTAL


def test_a_resident_cannot_pay_or_see_a_neighbours_account(client, city, billed, session):
    paid = client.post(
        f"/api/v1/apartments/{city.neighbour.id}/payments",
        json={"amount_minor": 1000},
        headers=city.headers["resident"],
    )
    listed = client.get(f"/api/v1/apartments/{city.neighbour.id}/payments", headers=city.headers["resident"])
    assert (paid.status_code, listed.status_code) == (503, 404)  # no Stripe here; the scope is checked next
    assert listed.json()["detail"] == f"apartment {city.neighbour.id} not found"
    assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 0


def upload(client, city, text, who="manager"):
    files = {"file": ("statement.csv", text.encode(), "text/csv")}
    return client.post("/api/v1/imports/bank-statements", files=files, headers=city.headers[who])


def test_a_bank_statement_books_all_rows_or_none(client, city, billed, session):
    good = (
        "date,account_number,amount,reference,payer\n"
        f"2026-11-03,{city.home.account_number},300000.00,TRX-1,Karimov\n"
        f"2026-11-04,{city.neighbour.account_number},12500.50,TRX-2,\n"
    )
    bad = (
        "date,account_number,amount,reference\n"
        f"2026-11-03,{city.home.account_number},100.00,TRX-9\n"
        f"2026-13-03,{city.home.account_number},-5,TRX-10\n"
        f"2026-11-05,{city.far_away.account_number},10.00,TRX-9\n"
    )

    rejected = upload(client, city, bad)
    assert rejected.status_code == 422
    errors = {(e["line"], e["field"]) for e in rejected.json()["errors"]}
    assert errors == {(3, "date"), (3, "amount"), (4, "account_number"), (4, "reference")}
    assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 0

    booked = upload(client, city, good)
    twice = upload(client, city, good)

    assert booked.status_code == 201, booked.text
    assert booked.json() == {"recorded": 2, "already_recorded": 0, "total_minor": 30_000_000 + 1_250_050}
    assert twice.json() == {"recorded": 0, "already_recorded": 2, "total_minor": 0}
    session.expire_all()
    assert balance(session, city.home.id) == TOTAL - 30_000_000
    assert balance(session, city.neighbour.id) == -1_250_050


def test_a_reference_booked_with_another_amount_is_refused(client, city, billed, session):
    upload(
        client,
        city,
        f"date,account_number,amount,reference\n2026-11-03,{city.home.account_number},1.00,T-1\n",
    )
    again = upload(
        client,
        city,
        f"date,account_number,amount,reference\n2026-11-03,{city.home.account_number},2.00,T-1\n",
    )
    assert again.status_code == 422 and "another account or amount" in again.json()["errors"][0]["reason"]
    session.expire_all()
    assert balance(session, city.home.id) == TOTAL - 100  # the first booking only


def test_the_command_line_books_a_statement_and_refuses_a_bad_one(
    database_url, city, billed, session, tmp_path
):
    env = {"HOUSING_DB__URL": database_url, "HOUSING_ENVIRONMENT": "development", "COLUMNS": "200"}
    good = tmp_path / "statement.csv"
    good.write_text(
        f"date;account_number;amount;reference\n2026-11-03;{city.home.account_number};1500,50;B-1\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(f"date,account_number,amount,reference\n2026-11-03,{city.home.account_number},abc,B-2\n")

    refused = CliRunner().invoke(cli.app, ["import", "bank-statement", str(bad)], env=env)
    booked = CliRunner().invoke(cli.app, ["import", "bank-statement", str(good)], env=env)

    assert refused.exit_code == 1 and "amount" in refused.output
    assert booked.exit_code == 0, booked.output
    assert "Booked 1 payments (1,500.50 UZS)" in booked.output
    session.expire_all()
    assert balance(session, city.home.id) == TOTAL - 150_050
