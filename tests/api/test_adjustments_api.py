"""Correcting an issued invoice: an adjustment that names the line, never an edit of the invoice."""

from datetime import date

import pytest
from sqlmodel import Session

from billing.ledger.service import balance
from billing.models import Invoice, InvoiceLine, InvoiceStatus
from tests.factories.billing import make_billed_invoice, make_invoice_line


@pytest.fixture
def line(session: Session, city) -> InvoiceLine:
    invoice = make_billed_invoice(session, city.home, 4_760_000, period=date(2026, 10, 1))
    line = make_invoice_line(session, invoice, amount_minor=4_760_000)
    session.commit()
    return line


def adjust(client, city, line, who="manager", invoice_id=None, **body):
    payload = {"amount_minor": -1_000_000, "reason": "meter misread on 2026-10-31"} | body
    url = f"/api/v1/invoices/{invoice_id or line.invoice_id}/lines/{line.id}/adjustments"
    return client.post(url, json=payload, headers=city.headers[who])


def test_a_credit_references_the_line_and_leaves_the_invoice_as_issued(client, city, line, session):
    answer = adjust(client, city, line)

    assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert (entry["kind"], entry["amount_minor"], entry["invoice_line_id"]) == (
        "adjustment",
        -1_000_000,
        line.id,
    )
    session.expire_all()
    invoice = session.get(Invoice, line.invoice_id)
    assert invoice.total_minor == 4_760_000 and session.get(InvoiceLine, line.id).amount_minor == 4_760_000
    assert balance(session, city.home.id) == 3_760_000
    ledger = client.get(f"/api/v1/apartments/{city.home.id}/ledger", headers=city.headers["resident"]).json()
    assert [e["kind"] for e in ledger["items"]] == ["adjustment", "charge"]


def test_paying_the_corrected_amount_pays_the_invoice(client, city, line, session):
    adjust(client, city, line)
    paid = client.post(
        f"/api/v1/apartments/{city.home.id}/payments/manual",
        json={"amount_minor": 3_760_000, "gateway": "office", "reference": "K-1", "paid_on": "2026-11-10"},
        headers=city.headers["manager"],
    )
    assert paid.status_code == 201
    session.expire_all()
    assert session.get(Invoice, line.invoice_id).status == InvoiceStatus.paid


def test_credits_never_take_a_line_below_zero(client, city, line, session):
    assert adjust(client, city, line, amount_minor=-4_000_000).status_code == 201
    refused = adjust(client, city, line, amount_minor=-760_001)
    assert refused.status_code == 422 and "below zero" in refused.json()["detail"]
    assert adjust(client, city, line, amount_minor=0).status_code == 422
    session.expire_all()
    assert balance(session, city.home.id) == 760_000  # the first credit only


@pytest.mark.parametrize(("who", "status"), [("manager_b", 404), ("resident", 403), ("official", 403)])
def test_only_the_managing_company_or_an_admin_corrects(client, city, line, session, who, status):
    assert adjust(client, city, line, who=who).status_code == status
    session.expire_all()
    assert balance(session, city.home.id) == 4_760_000


def test_a_line_of_another_invoice_is_not_found(client, city, line, session):
    other = make_billed_invoice(session, city.home, 100, period=date(2026, 9, 1))
    session.commit()
    elsewhere = adjust(client, city, line, invoice_id=other.id)
    assert elsewhere.status_code == 404
    assert elsewhere.json()["detail"] == f"line {line.id} of invoice {other.id} not found"
    assert adjust(client, city, line, reason="  ").status_code == 422
    session.expire_all()
    assert balance(session, city.home.id) == 4_760_000 + 100  # no adjustment booked
