"""The Telegram channel through pyTelegramBotAPI against the Bot API stand-in: messages arrive with
their link; a 429 waits Telegram's retry_after and puts the rest of the batch back untried; a
blocked bot or a missing chat disables the channel for that user; a server down is retried."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from housing.accounts.models import Role
from housing.notifications.channels import open_channels
from housing.notifications.channels.base import Outgoing
from housing.notifications.channels.telegram import TelegramChannel
from housing.notifications.models import ContactSettings, Delivery, DeliveryStatus
from housing.notifications.sender import send_due
from housing.notifications.service import notify
from tests.factories.core import make_person, make_user
from tests.servers import listening_socket
from tests.standins.telegram import telegram_standin

NOON = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 12:00 in Tashkent


@pytest.fixture
def api():
    with telegram_standin() as api:
        yield api


@pytest.fixture
def telegram_settings(settings, api):
    settings.notify.telegram_token = SecretStr(api.token)
    settings.notify.telegram_api_url = api.url
    settings.notify.site_url = "https://myhome.example"
    return settings


def _linked_user(session: Session, chat_id: int, language: str = "en"):
    user = make_user(session, Role.resident, person_id=make_person(session).id)
    user.language = language
    session.add(ContactSettings(user_id=user.id, telegram_chat_id=chat_id))
    session.commit()
    return user


def _notify(session: Session, *users, kind="payment_received", dedupe=None) -> None:
    notify(
        session,
        user_ids=[u.id for u in users],
        kind=kind,
        params={"amount_minor": 12_345_600, "currency": "UZS"},
        link="/payments",
        dedupe=dedupe,
        now=NOON,
    )
    session.commit()


def _deliveries(session: Session) -> list[Delivery]:
    session.expire_all()
    return list(session.exec(select(Delivery).order_by(Delivery.id)).all())


def test_the_channel_is_open_only_with_a_token(settings, telegram_settings):
    assert [c.channel.value for c in open_channels(telegram_settings)] == ["telegram"]
    telegram_settings.notify.telegram_token = None
    assert open_channels(telegram_settings) == []


def test_a_notice_arrives_in_the_chat_in_the_users_language_with_its_link(
    db, session, telegram_settings, api
):
    user = _linked_user(session, 501, language="ru")
    _notify(session, user)
    step = send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON)
    assert step.sent == {"telegram": 1}
    (message,) = api.sent
    assert message.chat_id == 501 and message.params["parse_mode"] == "HTML"
    assert "123" in message.text and "https://myhome.example/payments" in message.text
    assert [d.status for d in _deliveries(session)] == [DeliveryStatus.sent]
    again = send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON)
    assert not again.busy and len(api.sent) == 1


def test_markup_in_a_notice_is_shown_as_typed_and_a_long_one_is_cut(telegram_settings, api):
    channel = TelegramChannel(telegram_settings.notify)
    outgoing = Outgoing(1, "77", "en", "<b>Heating</b> & water", "x < y > z", "https://e.x/?a=1&b=2", False)
    assert channel.send([outgoing])[0].sent
    assert "&lt;b&gt;Heating&lt;/b&gt; &amp; water" in api.sent[0].text
    huge = Outgoing(2, "77", "en", "Water", "& <x> " * 5000, "https://e.x/a", False)
    assert channel.send([huge])[0].sent  # cut to what Telegram shows, never an entity in half
    assert api.sent[1].text.endswith("…\n\nhttps://e.x/a")


def test_a_429_waits_retry_after_and_puts_the_rest_of_the_batch_back_untried(
    db, session, telegram_settings, api
):
    users = [_linked_user(session, 600 + i) for i in range(5)]
    _notify(session, *users)
    api.flood, api.retry_after = 1, 120
    telegram_settings.notify.telegram_rate_per_second = 2  # three slices of the batch: none is tried
    send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON)
    assert api.calls.count("sendMessage") == 1 and api.sent == []
    deliveries = _deliveries(session)
    assert {d.status for d in deliveries} == {DeliveryStatus.pending}
    assert deliveries[0].next_attempt_at == NOON + timedelta(seconds=120)
    # the rest wait what is left of Telegram's wait when their slice came up (the sender paces slices)
    assert all(NOON + timedelta(seconds=115) <= d.next_attempt_at <= NOON + timedelta(seconds=120) for d in deliveries)  # fmt: skip
    assert "429" in deliveries[0].last_error
    send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON + timedelta(seconds=110))  # fmt: skip
    assert api.sent == []
    send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON + timedelta(seconds=120))  # fmt: skip
    assert sorted(m.chat_id for m in api.sent) == [600, 601, 602, 603, 604]
    assert {d.status for d in _deliveries(session)} == {DeliveryStatus.sent}


@pytest.mark.parametrize(
    ("refusal", "words"), [("blocked", "bot was blocked by the user"), ("missing", "chat not found")]
)
def test_a_blocked_bot_or_a_missing_chat_disables_telegram_for_that_user_only(
    db, session, telegram_settings, api, refusal, words
):
    gone, fine = _linked_user(session, 701), _linked_user(session, 702)
    getattr(api, refusal).add(701)
    _notify(session, gone, fine)
    send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON)
    by_chat = {d.address: d for d in _deliveries(session)}
    assert by_chat["701"].status == DeliveryStatus.failed and words in by_chat["701"].last_error
    assert by_chat["702"].status == DeliveryStatus.sent
    session.expire_all()
    assert words in session.get(ContactSettings, gone.id).telegram_disabled
    assert session.get(ContactSettings, fine.id).telegram_disabled == ""
    _notify(session, gone, fine, kind="payment_refunded")
    send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON)
    assert [m.chat_id for m in api.sent] == [702, 702]  # nothing more is tried for the blocked chat
    assert api.calls.count("sendMessage") == 3


def test_a_bot_api_server_that_does_not_answer_is_a_temporary_failure(db, session, telegram_settings):
    closed = listening_socket()
    host, port = closed.getsockname()
    closed.close()
    telegram_settings.notify.telegram_api_url = f"http://{host}:{port}"
    _notify(session, _linked_user(session, 801))
    send_due(db, telegram_settings, open_channels(telegram_settings), clock=lambda: NOON)
    (delivery,) = _deliveries(session)
    assert delivery.status == DeliveryStatus.pending and "ConnectionError" in delivery.last_error
