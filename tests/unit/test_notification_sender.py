"""The outbox and its sender, against a recording channel: planning, quiet hours, retries,
permanent refusals, interrupted claims, and notices written once however often their cause runs."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from housing.accounts.models import Role
from housing.notifications.channels.base import SENT, Outcome, Outgoing, permanent, temporary
from housing.notifications.kinds import Channel
from housing.notifications.models import (
    ChannelChoice,
    ContactSettings,
    Delivery,
    DeliveryStatus,
    Notification,
)
from housing.notifications.sender import send_due
from housing.notifications.service import notify
from tests.factories.core import make_person, make_user

NOON = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 12:00 in Tashkent
NIGHT = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # 23:00 in Tashkent


class Recording:
    """A channel that records what it was given and answers with the outcomes queued for it."""

    def __init__(self, channel: Channel = Channel.email, answers: list[Outcome] | None = None) -> None:
        self.channel = channel
        self.rate_per_second = 1000
        self.answers = list(answers or [])
        self.got: list[Outgoing] = []

    def send(self, messages: list[Outgoing]) -> list[Outcome]:
        self.got += messages
        return [self.answers.pop(0) if self.answers else SENT for _ in messages]

    def close(self) -> None:
        pass


@pytest.fixture
def resident(session: Session):
    person = make_person(session, email="aziza@example.uz", phone="+998901234567")
    user = make_user(session, Role.resident, person_id=person.id)
    user.language = "ru"
    session.commit()
    return user


def _notify(session: Session, user, kind="payment_received", now=NOON, **kw) -> None:
    notify(
        session,
        user_ids=[user.id],
        kind=kind,
        params={"amount_minor": 12_345_600, "currency": "UZS"},
        link="/payments",
        now=now,
        **kw,
    )
    session.commit()


def _deliveries(session: Session) -> list[Delivery]:
    session.expire_all()
    return list(session.exec(select(Delivery).order_by(Delivery.channel)).all())


def test_a_notice_goes_once_to_each_default_channel_in_the_users_language(db, session, settings, resident):
    _notify(session, resident)
    email, sms = Recording(Channel.email), Recording(Channel.sms)
    step = send_due(db, settings, [email, sms], clock=lambda: NOON)
    assert step.sent == {"email": 1}  # payment_received goes to e-mail and Telegram, not SMS
    assert [m.address for m in email.got] == ["aziza@example.uz"] and sms.got == []
    assert "123" in email.got[0].text and email.got[0].url.endswith("/payments")
    assert email.got[0].language == "ru"
    again = send_due(db, settings, [email, sms], clock=lambda: NOON + timedelta(minutes=5))
    assert not again.busy and len(email.got) == 1


def test_a_users_choice_replaces_the_kinds_defaults(db, session, settings, resident):
    session.add(
        ChannelChoice(user_id=resident.id, kind="payment_received", email=False, telegram=False, sms=True)
    )
    _notify(session, resident)
    email, sms = Recording(Channel.email), Recording(Channel.sms)
    send_due(db, settings, [email, sms], clock=lambda: NOON)
    assert email.got == [] and [m.address for m in sms.got] == ["+998901234567"]


def test_quiet_hours_hold_a_notice_until_eight_and_let_an_urgent_one_through(db, session, settings, resident):
    _notify(session, resident, now=NIGHT)
    _notify(session, resident, kind="incident", now=NIGHT)
    email = Recording()
    send_due(db, settings, [email], clock=lambda: NIGHT)
    assert [m.subject for m in email.got] != [] and all(m.urgent for m in email.got)
    send_due(db, settings, [email], clock=lambda: datetime(2026, 12, 4, 2, 59, tzinfo=UTC))  # 07:59
    assert len(email.got) == 1
    send_due(db, settings, [email], clock=lambda: datetime(2026, 12, 4, 3, 0, tzinfo=UTC))  # 08:00
    assert len(email.got) == 2


def test_a_temporary_failure_is_retried_with_backoff_and_retry_after_is_honoured(
    db, session, settings, resident
):
    _notify(session, resident)
    email = Recording(answers=[temporary("421 try later"), temporary("429", retry_after=600)])
    send_due(db, settings, [email], clock=lambda: NOON)
    (delivery,) = _deliveries(session)
    assert delivery.status == DeliveryStatus.pending and delivery.next_attempt_at == NOON + timedelta(
        seconds=30
    )
    send_due(db, settings, [email], clock=lambda: NOON + timedelta(seconds=29))
    assert len(email.got) == 1
    later = NOON + timedelta(seconds=30)
    send_due(db, settings, [email], clock=lambda: later)
    (delivery,) = _deliveries(session)
    assert delivery.next_attempt_at == later + timedelta(seconds=600) and delivery.attempts == 2
    send_due(db, settings, [email], clock=lambda: later + timedelta(seconds=600))
    (delivery,) = _deliveries(session)
    assert delivery.status == DeliveryStatus.sent and len(email.got) == 3


def test_a_delivery_failing_past_the_limit_is_given_up_with_its_reason(db, session, settings, resident):
    _notify(session, resident)
    email = Recording(answers=[temporary("connection refused")] * 100)
    moment = NOON
    while _deliveries(session)[0:1] == [] or _deliveries(session)[0].status == DeliveryStatus.pending:
        send_due(db, settings, [email], clock=lambda at=moment: at)
        moment += timedelta(hours=1)
        assert moment < NOON + timedelta(days=3)
    (delivery,) = _deliveries(session)
    assert delivery.status == DeliveryStatus.failed
    assert delivery.last_error.startswith("gave up after") and "connection refused" in delivery.last_error


def test_a_permanent_refusal_disables_the_channel_for_the_user_and_says_why(db, session, settings, resident):
    _notify(session, resident)
    _notify(session, resident, kind="payment_refunded")
    email = Recording(answers=[permanent("550 no such mailbox")])
    settings.notify.batch_size = 1
    send_due(db, settings, [email], clock=lambda: NOON)
    statuses = [d.status for d in _deliveries(session)]
    assert statuses == [DeliveryStatus.failed, DeliveryStatus.failed] and len(email.got) == 1
    session.expire_all()
    assert "550 no such mailbox" in session.get(ContactSettings, resident.id).email_disabled
    _notify(session, resident, kind="payment_received", dedupe="again")
    send_due(db, settings, [email], clock=lambda: NOON)
    assert len(email.got) == 1  # no new deliveries on a disabled channel


def test_a_claim_whose_sender_died_is_failed_as_interrupted_never_sent_twice(db, session, settings, resident):
    _notify(session, resident)

    class Dying(Recording):
        def send(self, messages):
            raise KeyboardInterrupt  # the process stops mid-call

    with pytest.raises(KeyboardInterrupt):
        send_due(db, settings, [Dying()], clock=lambda: NOON)
    (delivery,) = _deliveries(session)
    assert delivery.status == DeliveryStatus.sending
    email = Recording()
    send_due(
        db, settings, [email], clock=lambda: NOON + timedelta(seconds=settings.notify.sending_lease_s + 1)
    )
    (delivery,) = _deliveries(session)
    assert (
        delivery.status == DeliveryStatus.failed and "interrupted" in delivery.last_error and email.got == []
    )


def test_a_channel_that_raises_is_retried_like_a_failing_service(db, session, settings, resident):
    _notify(session, resident)

    class Broken(Recording):
        def send(self, messages):
            raise RuntimeError("a bug")

    send_due(db, settings, [Broken()], clock=lambda: NOON)
    (delivery,) = _deliveries(session)
    assert delivery.status == DeliveryStatus.pending and "a bug" in delivery.last_error


def test_a_cause_that_runs_twice_writes_its_notice_once(db, session, resident):
    for _ in range(2):
        _notify(session, resident, dedupe="payment:7")
    assert len(session.exec(select(Notification)).all()) == 1


def test_a_link_code_ties_a_chat_once_and_a_chat_moves_to_its_latest_user(session, resident):
    from housing.errors import Invalid
    from housing.notifications.linking import link_chat, new_link_code, user_of_chat

    other = make_user(session, Role.resident, person_id=make_person(session).id)
    first = new_link_code(session, user_id=resident.id, now=NOON)
    replaced = new_link_code(session, user_id=resident.id, now=NOON)
    with pytest.raises(Invalid):
        link_chat(session, code=first.code, chat_id=555, now=NOON)  # superseded
    assert link_chat(session, code=replaced.code, chat_id=555, now=NOON) == resident.id
    with pytest.raises(Invalid):
        link_chat(session, code=replaced.code, chat_id=555, now=NOON)  # used
    late = new_link_code(session, user_id=other.id, now=NOON)
    with pytest.raises(Invalid):
        link_chat(session, code=late.code, chat_id=555, now=NOON + timedelta(hours=1))  # expired
    for garbage in ["", "\x00", "a" * 65, "code with spaces", "ü"]:
        with pytest.raises(Invalid):
            link_chat(session, code=garbage, chat_id=555, now=NOON)
    link_chat(session, code=new_link_code(session, user_id=other.id, now=NOON).code, chat_id=555, now=NOON)
    assert user_of_chat(session, 555) == other.id
    assert session.get(ContactSettings, resident.id).telegram_chat_id is None


def test_a_required_notice_finds_a_channel_when_the_chosen_ones_cannot_carry_it(
    db, session, settings, resident
):
    session.add(
        ChannelChoice(user_id=resident.id, kind="meeting_notice", email=False, telegram=True, sms=False)
    )
    session.add(
        ChannelChoice(user_id=resident.id, kind="payment_received", email=False, telegram=True, sms=False)
    )
    session.commit()  # no Telegram chat is linked: the chosen channel does not reach the user
    notify(
        session,
        user_ids=[resident.id],
        kind="meeting_notice",
        params={"title": "Roof", "text": "Vote"},
        now=NOON,
    )
    _notify(session, resident)
    email, sms = Recording(Channel.email), Recording(Channel.sms)
    send_due(db, settings, [email, sms], clock=lambda: NOON)
    assert len(email.got) == 1 and "Roof" in email.got[0].subject and len(sms.got) == 1


def test_a_kind_retired_from_the_catalogue_stays_in_app_and_blocks_no_one(db, session, settings, resident):
    session.add(Notification(user_id=resident.id, kind="retired_kind", params={}, link="/x", created_at=NOON))
    session.commit()
    _notify(session, resident)
    email = Recording()
    step = send_due(db, settings, [email], clock=lambda: NOON)
    assert step.planned == 2 and len(email.got) == 1 and "123" in email.got[0].text
