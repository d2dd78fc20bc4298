"""The SMS channel against a local stand-in of Eskiz's API (tests/standins/sms.py): messages
arrive once with their link, the token is renewed, failures are classified, the sender retries
a gateway that was down and disables SMS for a number the network refuses."""

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from housing.accounts.models import Role
from housing.notifications.channels import open_channels, sms
from housing.notifications.channels.base import Outgoing
from housing.notifications.channels.sms import MAX_CHARS, SmsChannel, sms_text, uzbek_mobile
from housing.notifications.models import ChannelChoice, ContactSettings, Delivery, DeliveryStatus
from housing.notifications.sender import send_due
from housing.notifications.service import notify
from housing.settings import NotifySettings
from tests.factories.core import make_person, make_user
from tests.servers import listening_socket, serving_in_thread
from tests.standins.sms import EMAIL, PASSWORD, SmsGatewayState, sms_gateway_app

NOON = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 12:00 in Tashkent


@pytest.fixture(autouse=True)
def _no_kept_tokens() -> None:
    """Each test's stand-in is new (on a port an earlier one may have used): it knows no token."""
    sms._TOKENS.clear()


@pytest.fixture
def gateway() -> Iterator[tuple[SmsGatewayState, str]]:
    state = SmsGatewayState()
    with serving_in_thread(sms_gateway_app(state), listening_socket()) as url:
        yield state, url


def _notify_settings(url: str, **kw) -> NotifySettings:
    return NotifySettings(
        sms_provider="eskiz", sms_api_url=url, sms_login=EMAIL, sms_password=PASSWORD, sms_timeout_s=2, **kw
    )


def _message(number: str, n: int = 1, text: str = "The water is off from 10:00 to 14:00.") -> Outgoing:
    return Outgoing(n, number, "uz", "Planned outage", text, "https://uy.example.uz/notices", False)


def test_messages_arrive_with_their_link_after_one_login(gateway):
    state, url = gateway
    channel = SmsChannel(_notify_settings(url, sms_sender="UYJOY"))
    outcomes = channel.send([_message("+998 90 123-45-67", 1), _message("901234568", 2)])
    channel.close()
    assert [o.sent for o in outcomes] == [True, True]
    sent = state.wait_for(2)
    assert [m["mobile_phone"] for m in sent] == ["998901234567", "998901234568"]
    assert sent[0]["from"] == "UYJOY" and sent[0]["message"].endswith("https://uy.example.uz/notices")
    assert "Planned outage" in sent[0]["message"] and state.logins == 1


def test_the_token_outlives_one_sender_step(gateway):
    state, url = gateway
    for _ in range(3):  # each sender step opens its channels anew
        channel = SmsChannel(_notify_settings(url))
        assert channel.send([_message("998901234567")])[0].sent
        channel.close()
    assert state.logins == 1 and len(state.sent) == 3


def test_an_expired_token_is_refreshed_and_a_revoked_one_replaced_by_a_login(gateway):
    state, url = gateway
    channel = SmsChannel(_notify_settings(url))
    assert channel.send([_message("998901234567")])[0].sent
    state.expire_tokens()
    assert channel.send([_message("998901234567")])[0].sent
    assert (state.logins, state.refreshes) == (1, 1)
    state.revoke_tokens()
    assert channel.send([_message("998901234567")])[0].sent
    assert (state.logins, state.refreshes) == (2, 2) and len(state.sent) == 3


def test_a_server_error_is_temporary_and_the_rest_of_the_batch_waits(gateway):
    state, url = gateway
    state.answer_next(503)
    outcomes = SmsChannel(_notify_settings(url)).send([_message("998901234567", n) for n in range(3)])
    assert [o.sent or o.permanent for o in outcomes] == [False] * 3
    assert "503" in outcomes[0].error and outcomes[2].error.startswith("not tried")
    assert state.sent == []


def test_throttling_passes_the_gateways_retry_after_on(gateway):
    state, url = gateway
    state.answer_next(429, retry_after=120)
    (outcome,) = SmsChannel(_notify_settings(url)).send([_message("998901234567")])
    assert not outcome.sent and not outcome.permanent and outcome.retry_after == 120


def test_a_number_the_network_refuses_is_permanent_and_the_batch_goes_on(gateway):
    state, url = gateway
    state.unknown_numbers.add("998900000000")
    outcomes = SmsChannel(_notify_settings(url)).send(
        [_message("998900000000", 1), _message("+7 912 345 67 89", 2), _message("998901234567", 3)]
    )
    assert [(o.sent, o.permanent) for o in outcomes] == [(False, True), (False, True), (True, False)]
    assert "refused the number" in outcomes[0].error and "not an Uzbek" in outcomes[1].error
    assert [m["mobile_phone"] for m in state.sent] == ["998901234567"]  # +7 never reached the gateway


def test_wrong_credentials_are_temporary_and_say_what_to_check(gateway):
    _state, url = gateway
    settings = _notify_settings(url).model_copy(update={"sms_login": "someone@else.uz"})
    (outcome,) = SmsChannel(settings).send([_message("998901234567")])
    assert not outcome.permanent and "login" in outcome.error


def test_a_gateway_too_slow_to_answer_is_an_unknown_outcome_never_sent_again(gateway):
    """The request left; the gateway may send the SMS after our timeout (the stand-in does),
    so the message is failed as "outcome unknown" rather than sent a second time."""
    state, url = gateway
    channel = SmsChannel(_notify_settings(url).model_copy(update={"sms_timeout_s": 0.5}))
    assert channel.send([_message("998901234567", 1)])[0].sent  # logged in
    release = state.hold_next()
    try:
        (outcome,) = channel.send([_message("998901234567", 2)])
    finally:
        release.set()
    assert outcome.unknown and not outcome.sent and not outcome.permanent and "ReadTimeout" in outcome.error


def test_a_gateway_that_cannot_be_reached_is_temporary():
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # nothing listens there now
    (outcome,) = SmsChannel(_notify_settings(url)).send([_message("998901234567")])
    assert not outcome.sent and not outcome.permanent and "unreachable" in outcome.error


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("+998 (90) 123-45-67", "998901234567"),
        ("90 123 45 67", "998901234567"),
        ("998901234567", "998901234567"),
        ("+7 912 345 67 89", None),
        ("99890123456", None),
        ("+998 90 123 45 6７", None),  # a full-width digit
        ("", None),
        ("9" * 1000, None),
    ],
)
def test_which_numbers_are_uzbek_mobiles(typed, number):
    assert uzbek_mobile(typed) == number


def test_a_long_text_is_cut_and_keeps_its_link():
    text = sms_text(_message("998901234567", text="Ж" * 5000))
    assert len(text) <= MAX_CHARS and text.endswith(" https://uy.example.uz/notices") and "…" in text


def test_an_unknown_provider_is_refused_when_the_channels_open(settings):
    settings.notify = NotifySettings(sms_provider="nonesuch")
    with pytest.raises(ValueError, match="unknown SMS provider"):
        open_channels(settings)


@pytest.fixture
def texter(session: Session):
    person = make_person(session, phone="+998 90 123 45 67")
    user = make_user(session, Role.resident, person_id=person.id)
    session.add(
        ChannelChoice(user_id=user.id, kind="payment_received", email=False, telegram=False, sms=True)
    )
    session.commit()
    return user


def _payment_notice(session: Session, user, n: int) -> None:
    notify(
        session,
        user_ids=[user.id],
        kind="payment_received",
        params={"amount_minor": 5_000_000 + n, "currency": "UZS"},
        link="/payments",
        dedupe=f"test:{n}",
        now=NOON,
    )
    session.commit()


def test_a_gateway_down_for_a_while_gets_every_message_once(db, session, settings, gateway, texter):
    state, url = gateway
    settings.notify = _notify_settings(url)
    for n in range(3):
        _payment_notice(session, texter, n)
    state.answer_next(500, 2)
    channels = open_channels(settings)
    send_due(db, settings, channels, clock=lambda: NOON)
    assert state.sent == []
    later = NOON + timedelta(minutes=5)
    send_due(db, settings, channels, clock=lambda: later)  # the first retry: the gateway is back
    send_due(db, settings, channels, clock=lambda: later + timedelta(hours=1))
    sent = state.wait_for(3)
    assert len(sent) == 3 and len({m["message"] for m in sent}) == 3
    session.expire_all()
    assert {d.status for d in session.exec(select(Delivery)).all()} == {DeliveryStatus.sent}


def test_a_refused_number_turns_sms_off_for_the_user_with_the_reason(db, session, settings, gateway, texter):
    state, url = gateway
    settings.notify = _notify_settings(url)
    state.unknown_numbers.add("998901234567")
    _payment_notice(session, texter, 1)
    _payment_notice(session, texter, 2)
    send_due(db, settings, open_channels(settings), clock=lambda: NOON)
    session.expire_all()
    contact = session.get(ContactSettings, texter.id)
    assert contact is not None and "refused the number" in contact.sms_disabled
    assert {d.status for d in session.exec(select(Delivery)).all()} == {DeliveryStatus.failed}
    assert state.sent == []


def _socket_on(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(16)
    return sock


def test_a_gateway_restarting_between_messages_costs_one_retry_and_a_new_login():
    probe = listening_socket()
    port = probe.getsockname()[1]
    probe.close()
    first = _socket_on(
        port
    )  # both with SO_REUSEADDR, so the second may bind while the first's connections linger
    url = f"http://127.0.0.1:{port}"
    channel = SmsChannel(_notify_settings(url))
    before = SmsGatewayState()
    with serving_in_thread(sms_gateway_app(before), first):
        assert channel.send([_message("998901234567")])[0].sent
    (down,) = channel.send([_message("998901234568")])  # the kept connection is gone, nothing listens
    assert not down.sent and not down.permanent
    after = SmsGatewayState()  # restarted: it forgot every token it issued
    with serving_in_thread(sms_gateway_app(after), _socket_on(port)):
        assert channel.send([_message("998901234568")])[0].sent
    channel.close()
    assert [m["mobile_phone"] for m in before.sent + after.sent] == ["998901234567", "998901234568"]
    assert after.logins == 1
