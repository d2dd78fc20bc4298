"""The same Stripe event delivered twice at the same moment: both answered 2xx, the payment booked once.

Stripe retries a delivery it thinks failed and may send one event to us twice at once (two
deliveries racing, or a retry overlapping a slow first try). The app is served for real on
a loopback port and two threads post the same signed event at a barrier.
"""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from billing.ledger.service import balance
from billing.models import LedgerEntry, LedgerKind, PaymentAttempt, PaymentStatus, WebhookEvent
from housing.app import create_app
from tests.api.test_webhooks import TOTAL, URL, event
from tests.conftest import TEST_SECRET, make_settings
from tests.factories.billing import make_billed_invoice, make_payment_attempt
from tests.factories.core import make_apartment
from tests.integration.stripe_helpers import (
    WEBHOOK_SECRET,
    serving,
    signature,
    wait_for_port,
    webhooks_only_group,
)

PAYMENTS = 8


@pytest.fixture
def served(database_url, db):
    settings = make_settings(database_url, stripe=webhooks_only_group())
    with serving(create_app(settings, engine=db)) as url:
        yield url


def pending_payments(session: Session, count: int) -> list[PaymentAttempt]:
    attempts = []
    for n in range(count):
        apartment = make_apartment(session)
        make_billed_invoice(session, apartment, TOTAL, period=date(2026, 10, 1))
        attempts.append(
            make_payment_attempt(
                session, apartment, amount_minor=TOTAL, external_id=f"pi_{n}", status=PaymentStatus.pending
            )
        )
    session.commit()
    return attempts


@dataclass(frozen=True)
class Answer:
    status_code: int
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


def post(url: str, payload: bytes, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Answer(response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read().decode())


def post_at_once(url: str, payload: bytes, copies: int = 2) -> list[Answer]:
    """`copies` threads post the same body, released together by a barrier."""
    barrier = threading.Barrier(copies)
    answers: list[Answer | BaseException] = [None] * copies  # type: ignore[list-item]
    headers = {"Stripe-Signature": signature(payload), "Content-Type": "application/json"}

    def deliver(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = post(url + URL, payload, headers)
        except BaseException as exc:  # reported by the test, not lost in the thread
            answers[i] = exc

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


def payments_booked(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == LedgerKind.payment)
    ).one()


def test_the_same_event_twice_at_once_is_answered_2xx_both_times_and_booked_once(served, session):
    """Many payments, each event delivered by two threads at once (SQLite: writers queue on its lock)."""
    attempts = pending_payments(session, PAYMENTS)

    for n, attempt in enumerate(attempts):
        answers = post_at_once(served, json.dumps(event(f"evt_{n}", attempt.external_id)).encode())

        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted(a.json()["duplicate"] for a in answers) == [False, True]

    assert payments_booked(session) == PAYMENTS
    assert all(balance(session, a.apartment_id) == 0 for a in attempts)
    assert len(session.exec(select(WebhookEvent.event_id)).all()) == PAYMENTS


def waiting_on_locks(db) -> int:
    """Backends of this database waiting for a lock right now."""
    with db.connect() as connection:
        return connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()


def test_a_second_delivery_waiting_on_the_first_ones_uncommitted_inbox_row_is_a_duplicate(
    served, session, db
):
    """Deterministic on PostgreSQL: the first delivery has written its inbox row and waits (on the
    payment, which the test holds locked) while the second waits on that row's unique key.
    Released, the first books the payment and the second, finding the key taken, answers 200
    duplicate (before the fix: a unique violation, answered 409, which Stripe counts as failed)."""
    if db.dialect.name != "postgresql":
        pytest.skip("row locks and pg_stat_activity: PostgreSQL only (SQLite has one writer at a time)")
    (attempt,) = pending_payments(session, 1)
    payload = json.dumps(event("evt_race", attempt.external_id)).encode()
    answers: list[Answer] = []

    with db.connect() as holder:
        holder.execute(text("SELECT id FROM payment_attempt WHERE id = :id FOR UPDATE"), {"id": attempt.id})
        sender = threading.Thread(target=lambda: answers.extend(post_at_once(served, payload)))
        sender.start()
        deadline = time.monotonic() + 30
        while waiting_on_locks(db) < 2:  # one on the payment's row, one on the inbox key
            assert time.monotonic() < deadline, "the two deliveries never both waited"
            time.sleep(0.05)
        holder.rollback()  # releases the payment
        sender.join(timeout=60)

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True]
    assert payments_booked(session) == 1
    assert balance(session, attempt.apartment_id) == 0


def test_housing_serve_writes_the_webhook_log_lines(database_url, db, session) -> None:
    """The web process as deployed (`housing serve`) shows each delivery's line on stderr."""
    (attempt,) = pending_payments(session, 1)
    port = free_port_in(range(18890, 18900))
    env = os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "HOUSING_STRIPE__SECRET_KEY": "sk_test_x",
        "HOUSING_STRIPE__WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HOUSING_STRIPE__API_BASE": "http://127.0.0.1:9",
    }
    command = [sys.executable, "-m", "housing.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stderr], daemon=True).start()
    try:
        wait_for_port(port, timeout=30)
        url = f"http://127.0.0.1:{port}"
        paid = json.dumps(event("evt_served", attempt.external_id)).encode()
        headers = {"Content-Type": "application/json"}
        assert post(url + URL, paid, headers | {"Stripe-Signature": signature(paid)}).status_code == 200
        assert (
            post(url + URL, paid, headers | {"Stripe-Signature": signature(paid, "whsec_no")}).status_code
            == 400
        )

        booked = wait_for_line(lines, 'outcome="booked"')
        refused = wait_for_line(lines, 'outcome="refused"')
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert "INFO billing.payments.webhooks stripe webhook" in booked and 'event_id="evt_served"' in booked
    assert "WARNING billing.payments.webhooks" in refused and 'reason="bad signature"' in refused


def free_port_in(ports: range) -> int:
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


def wait_for_line(lines: "queue.Queue[str]", needle: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if needle in line:
            return line
    raise AssertionError(f"no log line with {needle} in {timeout} s")
