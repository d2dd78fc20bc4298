"""`housing notifications send` as a user starts it, against a real SMTP server (aiosmtpd):
it delivers notices as they are written, two of them never send one twice, SIGTERM stops it
cleanly, `--once` exits when nothing is due."""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from housing.accounts.models import Role
from housing.notifications.models import Delivery, DeliveryStatus
from housing.notifications.service import notify
from tests.conftest import TEST_SECRET
from tests.factories.core import make_person, make_user
from tests.smtpserver import Inbox, MailServer


@pytest.fixture
def inbox():
    inbox = Inbox()
    server = MailServer(inbox).start()
    yield inbox
    server.shutdown()


def _env(database_url: str, port: int) -> dict[str, str]:
    return os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "HOUSING_NOTIFY__SMTP_HOST": "127.0.0.1",
        "HOUSING_NOTIFY__SMTP_PORT": str(port),
        "HOUSING_NOTIFY__SITE_URL": "https://myhome.test",
        "HOUSING_NOTIFY__QUIET_START": "00:00",  # no quiet hours: the process runs on the real clock
        "HOUSING_NOTIFY__QUIET_END": "00:00",
        "HOUSING_NOTIFY__BATCH_SIZE": "7",  # several batches, so two senders interleave
    }


def _sender(database_url: str, port: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "notifications", "send", "--idle", "0.1", *args],
        env=_env(database_url, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _residents(session: Session, count: int, start: int = 0) -> list[int]:
    ids = []
    for i in range(start, start + count):
        person = make_person(session, email=f"r{i}@example.uz")
        ids.append(make_user(session, Role.resident, person_id=person.id).id)
    session.commit()
    return ids


def _notify(session: Session, user_ids: list[int], dedupe: str) -> None:
    notify(session, user_ids=user_ids, kind="payment_received", params={"amount_minor": 100, "currency": "UZS"},
           link="/payments", dedupe=dedupe, now=datetime.now(UTC))  # fmt: skip
    session.commit()


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    print(output)  # shown when the test fails
    assert process.returncode == 0, output
    return output


def test_the_sender_delivers_notices_as_they_come_and_stops_on_sigterm(database_url, db, session, inbox):
    users = _residents(session, 6)
    sender = _sender(database_url, inbox.server.port)
    try:
        _notify(session, users[:3], "first")
        assert sorted(a.to[0] for a in inbox.wait_for(3, timeout=30)) == ["r0@example.uz", "r1@example.uz", "r2@example.uz"]  # fmt: skip
        _notify(session, users, "second")  # the same kind again to all six, a new cause
        arrived = inbox.wait_for(9, timeout=30)
    finally:
        output = _stop(sender)
    assert "notification sender stopped: 9 notifications planned; 9 by email" in output
    assert Counter(a.message["Message-ID"] for a in arrived).most_common(1)[0][1] == 1
    session.expire_all()
    assert {d.status for d in session.exec(select(Delivery))} == {DeliveryStatus.sent}


def test_two_senders_at_once_send_each_message_once(database_url, db, session, inbox):
    users = _residents(session, 40)
    _notify(session, users, "bulk")
    senders = [_sender(database_url, inbox.server.port) for _ in range(2)]
    try:
        arrived = inbox.wait_for(40, timeout=60)
        _notify(session, users[:10], "more")
        arrived = inbox.wait_for(50, timeout=60)
    finally:
        for sender in senders:
            _stop(sender)
    assert len(arrived) == 50 == len(inbox.arrived)
    assert len({a.message["Message-ID"] for a in arrived}) == 50
    session.expire_all()
    assert {d.status for d in session.exec(select(Delivery))} == {DeliveryStatus.sent}


def test_once_sends_what_is_due_and_exits(database_url, db, session, inbox):
    _notify(session, _residents(session, 3), "once")
    done = subprocess.run(
        [sys.executable, "-m", "housing.cli", "notifications", "send", "--once"],
        env=_env(database_url, inbox.server.port), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(inbox.arrived) == 3 and "3 by email" in done.stdout
