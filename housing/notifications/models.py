"""The outbox (notifications), their deliveries per channel, and each user's choices."""

from datetime import datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field, updated_at_field


class Notification(SQLModel, table=True):
    """One message to one user, written in the transaction of its cause.

    It is the in-app copy (the inbox) as it stands; the sender plans its deliveries to the
    other channels once (`planned_at`). `dedupe_key` makes a cause that runs twice (a job
    run again, a webhook delivered twice) write its notice once.
    """

    __tablename__ = "notification"
    __table_args__ = (
        Index(None, "user_id", "created_at"),
        Index(None, "planned_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id")
    kind: str = Field(max_length=40)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    link: str = Field(default="", max_length=300, description="Path in the web app, e.g. /invoices/7")
    urgent: bool = False
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    created_at: datetime = created_at_field()
    planned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its time (quiet hours, a retry)
    sending = "sending"  # claimed by a sender, the channel is being called
    sent = "sent"
    failed = "failed"  # given up, refused for good, or interrupted with the outcome unknown


class Delivery(SQLModel, table=True):
    """One notification on one channel: at most one per pair, so it is sent at most once."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index(None, "channel", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id")
    channel: str = Field(max_length=10)
    address: str = Field(max_length=200, description="The e-mail, chat id or phone number it goes to")
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=String(10))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ContactSettings(SQLModel, table=True):
    """Where a user is reached, when they want quiet, and which channel refused them for good.

    Without a row (or with an empty address) the e-mail and phone of the user's person in
    the register are used. A permanent refusal (an invalid address, a bot the user blocked)
    sets the channel's `*_disabled` reason; changing the address or linking again clears it.
    """

    __tablename__ = "contact_settings"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    telegram_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, unique=True))
    email_disabled: str = Field(default="", max_length=300)
    telegram_disabled: str = Field(default="", max_length=300)
    sms_disabled: str = Field(default="", max_length=300)
    quiet_start: time | None = Field(default=None, description="None: the city's default")
    quiet_end: time | None = None
    updated_at: datetime = updated_at_field()


class ChannelChoice(SQLModel, table=True):
    """A user's channels for one kind; without a row the kind's defaults apply."""

    __tablename__ = "notification_choice"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id")
    kind: str = Field(max_length=40)
    email: bool = True
    telegram: bool = True
    sms: bool = True
    updated_at: datetime = updated_at_field()


class TelegramLinkCode(SQLModel, table=True):
    """A one-time code in a t.me deep link that ties a Telegram chat to a user."""

    __tablename__ = "telegram_link_code"

    code: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
