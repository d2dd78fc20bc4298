"""The e-mail channel against a real SMTP server (aiosmtpd): what arrives, in which language and
with which link; a server down for a while, or going down mid-batch, then back: every message
delivered exactly once; refusals told apart (a 5xx recipient turns e-mail off for the user)."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from housing.accounts.models import Role
from housing.notifications.channels import open_channels
from housing.notifications.channels.base import Outgoing
from housing.notifications.channels.email import EmailChannel
from housing.notifications.models import ContactSettings, Delivery, DeliveryStatus
from housing.notifications.sender import send_due
from housing.notifications.service import notify
from tests.factories.core import make_person, make_user
from tests.servers import listening_socket
from tests.smtpserver import Inbox, MailServer, accept_password

NOON = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 12:00 in Tashkent


@pytest.fixture
def inbox():
    inbox = Inbox()
    server = MailServer(inbox).start()
    yield inbox
    server.shutdown()


@pytest.fixture
def mail_settings(settings, inbox):
    settings.notify.smtp_host = "127.0.0.1"
    settings.notify.smtp_port = inbox.server.port
    settings.notify.smtp_from = "My Home <noreply@myhome.test>"
    settings.notify.smtp_timeout_s = 5
    settings.notify.site_url = "https://myhome.test"
    return settings


def _resident(session: Session, email: str, language: str):
    user = make_user(session, Role.resident, person_id=make_person(session, email=email).id)
    user.language = language
    session.commit()
    return user


def _invoice_notice(session: Session, users, dedupe: str = "october") -> None:
    params = {"number": "INV-7", "month": "2026-10-01", "amount_minor": 51_000_000, "currency": "UZS", "due": "2026-11-15"}  # fmt: skip
    notify(session, user_ids=[u.id for u in users], kind="invoice_issued", params=params,
           link="/invoices/7", dedupe=dedupe, now=NOON)  # fmt: skip
    session.commit()


def _deliveries(session: Session) -> list[Delivery]:
    session.expire_all()
    return list(session.exec(select(Delivery).order_by(Delivery.id)).all())


def _step(db, settings, at: datetime):
    return send_due(db, settings, open_channels(settings), clock=lambda: at)


def _ids(arrived) -> list[str]:
    return [a.message["Message-ID"] for a in arrived]


def test_each_reader_gets_text_and_html_in_their_language_with_the_link(db, session, mail_settings, inbox):
    ru = _resident(session, "olga@example.uz", "ru")
    uz = _resident(session, "aziz@example.uz", "uz")
    _invoice_notice(session, [ru, uz])
    step = _step(db, mail_settings, NOON)
    assert step.sent == {"email": 2}
    by_reader = {a.to[0]: a.message for a in inbox.wait_for(2)}
    assert set(by_reader) == {"olga@example.uz", "aziz@example.uz"}
    olga, aziz = by_reader["olga@example.uz"], by_reader["aziz@example.uz"]
    assert olga["Content-Language"] == "ru" and aziz["Content-Language"] == "uz"
    assert (
        olga["From"] == "My Home <noreply@myhome.test>" and "октябрь 2026" in olga["Subject"]
    )  # the kinds' texts are translated apart
    text, html = (olga.get_body(("plain",)).get_content(), olga.get_body(("html",)).get_content())
    assert "https://myhome.test/invoices/7" in text and 'href="https://myhome.test/invoices/7"' in html
    assert "510\xa0000,00" in text and '<html lang="ru">' in html
    assert "oktabr" in aziz.get_body(("plain",)).get_content().lower()
    assert "https://myhome.test/settings/notifications" in text
    assert len(set(_ids(inbox.arrived))) == 2
    assert not _step(db, mail_settings, NOON + timedelta(minutes=1)).busy and len(inbox.arrived) == 2


def test_html_escapes_what_the_notice_carries(db, session, mail_settings, inbox):
    user = _resident(session, "olga@example.uz", "en")
    notify(session, user_ids=[user.id], kind="request_status", params={"number": "<b>R-1</b>", "status": "done & dusted"},
           link="/requests/1", now=NOON)  # fmt: skip
    session.commit()
    _step(db, mail_settings, NOON)
    (arrived,) = inbox.wait_for(1)
    html = arrived.message.get_body(("html",)).get_content()
    assert "&lt;b&gt;R-1&lt;/b&gt;" in html and "<b>R-1" not in html and "done &amp; dusted" in html


def test_a_server_down_for_a_while_then_back_gets_every_message_once(db, session, mail_settings, inbox):
    users = [_resident(session, f"r{i}@example.uz", "uz") for i in range(5)]
    _invoice_notice(session, users)
    inbox.server.stop()
    moment = NOON
    for _ in range(3):  # refused three times, each retry later than the one before
        step = _step(db, mail_settings, moment)
        assert step.retried == 5 and inbox.arrived == []
        moment = min(d.next_attempt_at for d in _deliveries(session))
    assert {d.attempts for d in _deliveries(session)} == {3}
    assert all("unavailable" in d.last_error for d in _deliveries(session))
    inbox.server.start()
    assert _step(db, mail_settings, moment).sent == {"email": 5}
    arrived = inbox.wait_for(5)
    assert sorted(a.to[0] for a in arrived) == sorted(f"r{i}@example.uz" for i in range(5))
    assert len(set(_ids(arrived))) == 5
    assert {d.status for d in _deliveries(session)} == {DeliveryStatus.sent}
    _step(db, mail_settings, moment + timedelta(hours=2))
    assert len(inbox.arrived) == 5


def test_a_server_going_down_mid_batch_loses_nothing_and_sends_nothing_twice(
    db, session, mail_settings, inbox
):
    users = [_resident(session, f"r{i}@example.uz", "ru") for i in range(10)]
    _invoice_notice(session, users)
    inbox.go_down_after = 4
    step = _step(db, mail_settings, NOON)
    assert step.sent == {"email": 4} and step.retried == 6 and len(inbox.arrived) == 4
    inbox.go_down_after = None
    inbox.server.start()
    retry_at = min(d.next_attempt_at for d in _deliveries(session) if d.status == DeliveryStatus.pending)
    assert _step(db, mail_settings, retry_at).sent == {"email": 6}
    arrived = inbox.wait_for(10)
    assert sorted(a.to[0] for a in arrived) == sorted(
        u.person_id and f"r{i}@example.uz" for i, u in enumerate(users)
    )
    assert len(set(_ids(arrived))) == 10


def test_a_connection_lost_after_the_data_is_not_sent_again(db, session, mail_settings, inbox):
    users = [_resident(session, f"r{i}@example.uz", "en") for i in range(3)]
    _invoice_notice(session, users)
    inbox.drop_after_data = {"r1@example.uz"}
    step = _step(db, mail_settings, NOON)
    assert step.sent == {"email": 2} and step.failed == 1
    assert sorted(a.to[0] for a in inbox.wait_for(3)) == ["r0@example.uz", "r1@example.uz", "r2@example.uz"]
    lost = next(d for d in _deliveries(session) if d.address == "r1@example.uz")
    assert lost.status == DeliveryStatus.failed and lost.last_error.startswith("outcome unknown")
    assert session.get(ContactSettings, users[1].id) is None  # the address is fine: e-mail stays on
    _step(db, mail_settings, NOON + timedelta(hours=1))
    assert len(inbox.arrived) == 3


def test_a_refused_mailbox_turns_email_off_for_that_user_only(db, session, mail_settings, inbox):
    gone, busy, fine = (_resident(session, f"{n}@example.uz", "uz") for n in ("gone", "busy", "fine"))
    _invoice_notice(session, [gone, busy, fine])
    inbox.refuse = {
        "gone@example.uz": "550 5.1.1 no such mailbox",
        "busy@example.uz": "452 4.2.2 mailbox full",
    }
    step = _step(db, mail_settings, NOON)
    assert step.sent == {"email": 1} and step.failed == 1 and step.retried == 1
    assert [a.to for a in inbox.wait_for(1)] == [["fine@example.uz"]]
    session.expire_all()
    assert "550 5.1.1 no such mailbox" in session.get(ContactSettings, gone.id).email_disabled
    assert session.get(ContactSettings, busy.id) is None
    busy_delivery = next(d for d in _deliveries(session) if d.address == "busy@example.uz")
    assert busy_delivery.status == DeliveryStatus.pending and "452" in busy_delivery.last_error
    _invoice_notice(session, [gone, busy, fine], dedupe="november")
    inbox.refuse = {}
    _step(db, mail_settings, NOON + timedelta(hours=1))
    assert sorted(a.to[0] for a in inbox.wait_for(4)) == [
        "busy@example.uz", "busy@example.uz", "fine@example.uz", "fine@example.uz"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "address",
    [
        "no-at-sign",
        "a@b.c\r\nBcc: evil@example.uz",
        "two words@example.uz",
        "x" * 250 + "@example.uz",
        "a@b\x00.c",
    ],
)
def test_an_address_that_is_not_one_is_refused_without_reaching_the_server(address, mail_settings, inbox):
    channel = EmailChannel(mail_settings.notify)
    good = Outgoing(2, "ok@example.uz", "en", "Subject", "Text", "https://myhome.test/x", False)
    bad = Outgoing(1, address, "en", "Subject", "Text", "https://myhome.test/x", False)
    first, second = channel.send([bad, good])
    assert first.permanent and "not an e-mail address" in first.error and second.sent
    assert [a.to for a in inbox.wait_for(1)] == [["ok@example.uz"]]


def test_a_wrong_password_is_temporary_and_the_right_one_sends(settings):
    guarded = Inbox()
    server = MailServer(guarded, authenticator=accept_password("right"), auth_require_tls=False).start()
    try:
        settings.notify.smtp_host, settings.notify.smtp_port = "127.0.0.1", server.port
        settings.notify.smtp_username, settings.notify.smtp_password = "mailer", SecretStr("wrong")
        message = Outgoing(1, "ok@example.uz", "en", "Subject", "Text", "https://myhome.test/x", False)
        (outcome,) = EmailChannel(settings.notify).send([message])
        assert not outcome.sent and not outcome.permanent and "535" in outcome.error
        settings.notify.smtp_password = SecretStr("right")
        assert EmailChannel(settings.notify).send([message])[0].sent
        assert len(guarded.wait_for(1)) == 1
    finally:
        server.shutdown()


def test_nothing_listening_is_temporary_for_the_whole_batch(settings):
    sock = listening_socket()
    port = sock.getsockname()[1]
    sock.close()
    settings.notify.smtp_host, settings.notify.smtp_port = "127.0.0.1", port
    messages = [Outgoing(i, f"r{i}@example.uz", "en", "S", "T", "u", False) for i in range(3)]
    outcomes = EmailChannel(settings.notify).send(messages)
    assert len(outcomes) == 3 and all(
        not o.sent and not o.permanent and "unavailable" in o.error for o in outcomes
    )


def test_a_non_ascii_address_goes_with_smtputf8_and_is_refused_where_the_server_lacks_it(settings, inbox):
    message = Outgoing(1, "ольга@почта.уз", "ru", "Счёт", "Текст", "https://myhome.test/x", False)
    settings.notify.smtp_host, settings.notify.smtp_port = "127.0.0.1", inbox.server.port
    (refused,) = EmailChannel(settings.notify).send([message])
    assert refused.permanent and "SMTPUTF8" in refused.error and inbox.arrived == []
    international = Inbox()
    server = MailServer(international, enable_SMTPUTF8=True).start()
    try:
        settings.notify.smtp_port = server.port
        assert EmailChannel(settings.notify).send([message])[0].sent
        (arrived,) = international.wait_for(1)
        assert arrived.to == ["ольга@почта.уз"] and arrived.message["To"] == "ольга@почта.уз"
    finally:
        server.shutdown()


def test_a_huge_one_line_text_with_control_characters_arrives_whole(settings, inbox):
    text = "Suv " + "x" * 200_000 + " \x1b[31m\x00 oxiri. ."
    message = Outgoing(1, "ok@example.uz", "uz", "Uzun", text, "https://myhome.test/x", True)
    settings.notify.smtp_host, settings.notify.smtp_port = "127.0.0.1", inbox.server.port
    assert EmailChannel(settings.notify).send([message])[0].sent
    (arrived,) = inbox.wait_for(1)
    assert max(len(line) for line in arrived.data.split(b"\r\n")) <= 998  # SMTP's line limit
    assert arrived.message.get_body(("plain",)).get_content().startswith(text)
    assert arrived.message["Importance"] == "high"
