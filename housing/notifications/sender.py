"""The sender: plans each new notification's deliveries, then hands due ones to their channel.

At most once per (notification, channel): a delivery is claimed (`sending`) and committed
before its channel is called, and only a reported temporary failure puts it back to
`pending`. A sender that dies during the call leaves the claim behind; after
`sending_lease_s` it is marked failed as interrupted, with its outcome unknown, rather than
sent a second time. Several senders may run at once: on PostgreSQL claims skip rows another
sender holds.
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from housing.accounts.models import User
from housing.db import among, is_postgres, session_scope
from housing.i18n import DEFAULT_LANGUAGE
from housing.notifications.channels.base import ChannelSender, Outcome, Outgoing, temporary
from housing.notifications.kinds import EXTERNAL_CHANNELS, KINDS, Channel
from housing.notifications.messages import words_of
from housing.notifications.models import (
    ChannelChoice,
    ContactSettings,
    Delivery,
    DeliveryStatus,
    Notification,
)
from housing.notifications.quiet import deliver_at
from housing.registry.models import Person
from housing.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Step:
    """What one sender step did, for logs, the CLI and tests."""

    planned: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    failed: int = 0
    interrupted: int = 0

    @property
    def busy(self) -> bool:
        return bool(
            self.planned or sum(self.sent.values()) or self.retried or self.failed or self.interrupted
        )


@dataclass(frozen=True)
class _Reach:
    """Where one user can be reached on each channel, and what they chose per kind."""

    addresses: dict[Channel, str]
    choices: dict[str, ChannelChoice]
    settings: ContactSettings | None


def _reach(session: Session, user_ids: list[int], on: Iterable[Channel]) -> dict[int, _Reach]:
    users = session.execute(
        select(User.id, Person.email, Person.phone)
        .outerjoin(Person, Person.id == User.person_id)
        .where(among(session, User.id, user_ids))
    ).all()
    contacts = {c.user_id: c for c in session.scalars(select(ContactSettings).where(among(session, ContactSettings.user_id, user_ids))).all()}  # fmt: skip
    choices: dict[int, dict[str, ChannelChoice]] = {}
    for choice in session.scalars(
        select(ChannelChoice).where(among(session, ChannelChoice.user_id, user_ids))
    ):
        choices.setdefault(choice.user_id, {})[choice.kind] = choice
    reach = {}
    for user_id, person_email, person_phone in users:
        contact = contacts.get(user_id)
        candidates = {
            Channel.email: (contact and contact.email) or person_email,
            Channel.sms: (contact and contact.phone) or person_phone,
            Channel.telegram: str(contact.telegram_chat_id) if contact and contact.telegram_chat_id else None,
        }
        addresses = {
            channel: address
            for channel, address in candidates.items()
            if channel in on and address and not (contact and getattr(contact, f"{channel.value}_disabled"))
        }
        reach[user_id] = _Reach(addresses, choices.get(user_id, {}), contact)
    return reach


def _channels_for(notice_kind: str, choice: ChannelChoice | None, reachable: set[Channel]) -> set[Channel]:
    """The user's choice for the kind (or its defaults), among the channels that reach them.

    A required kind (a meeting's legal notice) goes out on every reachable channel when the
    chosen ones cannot carry it (none chosen, or each disabled or without an address).
    """
    spec = KINDS.get(notice_kind)
    if spec is None:  # a kind since retired from the catalogue: its notice stays in-app only
        return set()
    wanted = (
        set(spec.channels) if choice is None else {c for c in EXTERNAL_CHANNELS if getattr(choice, c.value)}
    )
    chosen = wanted & reachable
    if spec.required and not chosen:
        return set(reachable)
    return chosen


def plan(session: Session, settings: Settings, *, now: datetime, on: Iterable[Channel]) -> int:
    """Writes the deliveries of up to one batch of unplanned notifications; returns how many notifications."""
    notify = settings.notify
    on = set(on)
    claim = (
        select(Notification)
        .where(col(Notification.planned_at).is_(None))
        .order_by(Notification.id)
        .limit(notify.batch_size)
    )
    if is_postgres(session):
        claim = claim.with_for_update(skip_locked=True)
    notices = list(session.scalars(claim))
    if not notices:
        return 0
    reach = _reach(session, sorted({n.user_id for n in notices}), on)
    zone = ZoneInfo(settings.timezone)
    local_now = now.astimezone(zone)
    rows = []
    for notice in notices:
        user = reach.get(notice.user_id)
        if user is None:
            continue
        wanted = _channels_for(notice.kind, user.choices.get(notice.kind), set(user.addresses))
        contact = user.settings
        start = (contact and contact.quiet_start) or notify.quiet_start
        end = (contact and contact.quiet_end) or notify.quiet_end
        when = deliver_at(local_now, start, end, urgent=notice.urgent)
        for channel, address in user.addresses.items():
            if channel in wanted:
                rows.append(
                    {
                        "notification_id": notice.id,
                        "channel": channel.value,
                        "address": address[:200],
                        "status": DeliveryStatus.pending.value,
                        "attempts": 0,
                        "next_attempt_at": when.astimezone(now.tzinfo),
                        "claimed_at": None,
                        "sent_at": None,
                        "last_error": "",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    if rows:
        session.execute(Delivery.__table__.insert(), rows)
    session.execute(
        update(Notification)
        .where(among(session, Notification.id, [n.id for n in notices]))
        .values(planned_at=now)
    )
    return len(notices)


def _backoff(settings: Settings, attempts: int) -> float:
    return min(settings.notify.retry_base_s * 2 ** max(attempts - 1, 0), settings.notify.retry_max_s)


def interrupt_stale(session: Session, settings: Settings, *, now: datetime) -> int:
    """Marks claims older than the lease failed: their call's outcome is unknown, and a second
    call could send the message twice."""
    cutoff = now - timedelta(seconds=settings.notify.sending_lease_s)
    result = session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.sending, col(Delivery.claimed_at) < cutoff)
        .values(
            status=DeliveryStatus.failed,
            last_error="interrupted: the sender stopped during the call; not sent again, so as never to send twice",
            updated_at=now,
        )
    )
    return result.rowcount or 0


def _claim(session: Session, settings: Settings, channel: Channel, *, now: datetime) -> list[tuple[Delivery, Notification, str]]:  # fmt: skip
    query = (
        select(Delivery, Notification, User.language)
        .join(Notification, Notification.id == Delivery.notification_id)
        .join(User, User.id == Notification.user_id)
        .where(
            Delivery.channel == channel.value,
            Delivery.status == DeliveryStatus.pending,
            Delivery.next_attempt_at <= now,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(settings.notify.batch_size)
    )
    if is_postgres(session):
        query = query.with_for_update(of=Delivery, skip_locked=True)
    claimed = [(d, n, language or DEFAULT_LANGUAGE) for d, n, language in session.execute(query).all()]
    if not claimed:
        return []
    # Only rows still pending are taken: on SQLite, where nothing is locked by the select, a
    # second sender may have claimed some since; their ids do not come back.
    taken = set(
        session.scalars(
            update(Delivery)
            .where(among(session, Delivery.id, [d.id for d, _, _ in claimed]))
            .where(Delivery.status == DeliveryStatus.pending)
            .values(
                status=DeliveryStatus.sending, claimed_at=now, attempts=Delivery.attempts + 1, updated_at=now
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)  # `attempts` stays the count before this try
        )
    )
    return [row for row in claimed if row[0].id in taken]


def _disable(session: Session, user_id: int, channel: Channel, reason: str, now: datetime) -> None:
    """A permanent refusal turns the channel off for the user, with the reason on their settings page."""
    contact = session.get(ContactSettings, user_id) or ContactSettings(user_id=user_id)
    setattr(contact, f"{channel.value}_disabled", f"{now.date().isoformat()}: {reason}"[:300])
    session.add(contact)
    others = (
        select(Delivery.id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(
            Notification.user_id == user_id,
            Delivery.channel == channel.value,
            Delivery.status == DeliveryStatus.pending,
        )
    )
    session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(others))
        .values(status=DeliveryStatus.failed, last_error=f"channel disabled: {reason}"[:500], updated_at=now)
    )


def _record(session: Session, settings: Settings, step: Step, claimed, outcomes: list[Outcome], channel: Channel, now: datetime) -> None:  # fmt: skip
    give_up = timedelta(hours=settings.notify.give_up_after_hours)
    sent_ids = []
    for (delivery, notice, _), outcome in zip(claimed, outcomes, strict=True):
        attempts = delivery.attempts + 1
        if outcome.sent:
            sent_ids.append(delivery.id)
            continue
        values: dict = {"last_error": outcome.error[:500], "updated_at": now}
        if outcome.unknown:  # it may have arrived: not sent again, so as never to send twice
            values |= {"status": DeliveryStatus.failed, "last_error": f"outcome unknown, not sent again: {outcome.error}"[:500]}  # fmt: skip
            step.failed += 1
        elif outcome.permanent:
            values["status"] = DeliveryStatus.failed
            step.failed += 1
            _disable(session, notice.user_id, channel, outcome.error, now)
        else:
            wait = max(outcome.retry_after or 0, _backoff(settings, attempts))
            retry_at = now + timedelta(seconds=wait)
            if retry_at - notice.created_at > give_up:
                values |= {"status": DeliveryStatus.failed, "last_error": f"gave up after {attempts} tries: {outcome.error}"[:500]}  # fmt: skip
                step.failed += 1
            else:
                values |= {"status": DeliveryStatus.pending, "next_attempt_at": retry_at}
                step.retried += 1
        session.execute(update(Delivery).where(Delivery.id == delivery.id).values(**values))
    if sent_ids:
        session.execute(
            update(Delivery)
            .where(among(session, Delivery.id, sent_ids))
            .values(status=DeliveryStatus.sent, sent_at=now, last_error="", updated_at=now)
        )
    step.sent[channel.value] = step.sent.get(channel.value, 0) + len(sent_ids)


def send_due(
    engine: Engine,
    settings: Settings,
    channels: list[ChannelSender],
    *,
    clock: Callable[[], datetime],
) -> Step:
    """One step: interrupt stale claims, plan new notifications, then one batch per channel."""
    step = Step()
    with session_scope(engine) as session:
        step.interrupted = interrupt_stale(session, settings, now=clock())
    while True:
        with session_scope(engine) as session:
            planned = plan(session, settings, now=clock(), on=[c.channel for c in channels])
        step.planned += planned
        if planned < settings.notify.batch_size:
            break
    for channel in channels:
        with session_scope(engine) as session:
            claimed = _claim(session, settings, channel.channel, now=clock())
        if not claimed:
            continue
        outgoing = []
        for delivery, notice, language in claimed:
            words = words_of(notice, language, settings)
            outgoing.append(
                Outgoing(
                    delivery.id,
                    delivery.address,
                    language,
                    words.subject,
                    words.text,
                    words.url,
                    notice.urgent,
                )
            )
        try:
            outcomes = _paced(channel, outgoing)
        except Exception as exc:  # a fault of ours in a channel: retried like a service's failure
            log.exception("the %s channel raised", channel.channel.value)
            outcomes = [temporary(f"{type(exc).__name__}: {exc}")] * len(outgoing)
        with session_scope(engine) as session:
            _record(session, settings, step, claimed, outcomes, channel.channel, clock())
    return step


def _paced(channel: ChannelSender, outgoing: list[Outgoing]) -> list[Outcome]:
    """Sends in slices of one second's allowance, waiting out the rest of each second."""
    per_second = max(int(channel.rate_per_second), 1)
    outcomes: list[Outcome] = []
    for start in range(0, len(outgoing), per_second):
        began = time.monotonic()
        outcomes += channel.send(outgoing[start : start + per_second])
        if start + per_second < len(outgoing):
            time.sleep(max(0.0, 1 - (time.monotonic() - began)))
    return outcomes
