"""API models of notifications: the inbox, the preferences and, for staff, the deliveries."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from housing.notifications.kinds import Channel
from housing.schemas import ReadModel
from housing.validation import InputModel

KindName = Annotated[str, Field(pattern=r"^[a-z][a-z_]{1,39}$", description="A notification kind")]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, city time")]


class NotificationRead(BaseModel):
    """One notification of the inbox, in the reader's language."""

    id: int
    kind: str
    subject: str
    text: str
    url: str = Field(description="The page it is about, absolute")
    urgent: bool
    created_at: datetime
    read_at: datetime | None


class KindChannels(InputModel):
    kind: KindName
    channels: list[Channel] = Field(max_length=3, description="External channels; in-app is always on")


class QuietHours(InputModel):
    start: ClockTime
    end: ClockTime = Field(description="Equal to start: no quiet hours")


class NotificationSettingsUpdate(InputModel):
    """What to change; a field left out stays as it is. `email`/`phone` null or "": the register's.
    `quiet_hours` null: the city's default."""

    language: Literal["uz", "ru", "en"] | None = None
    email: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=30)
    quiet_hours: QuietHours | None = None
    kinds: list[KindChannels] | None = Field(None, max_length=50)
    reenable: list[Channel] | None = Field(None, max_length=3, description="Channels to turn back on")


class KindSetting(BaseModel):
    kind: str
    title: str
    channels: list[Channel]
    chosen: bool = Field(description="False: the kind's defaults, never changed")
    required: bool = Field(description="Required by law or the owners' meetings: at least one channel")
    urgent: bool = Field(description="Passes quiet hours")


class NotificationSettingsRead(BaseModel):
    language: str | None
    email: str | None = Field(description="The address for notifications; null: the register's")
    phone: str | None
    register_email: str | None
    register_phone: str | None
    telegram_linked: bool
    disabled: dict[Channel, str] = Field(description="Channels refused for good, with the reason")
    quiet_hours: dict[str, str] = Field(description="start and end, HH:MM city time")
    quiet_hours_default: bool
    offered: list[Channel] = Field(description="The channels this platform has turned on")
    kinds: list[KindSetting]


class DeliveryRead(ReadModel):
    id: int
    channel: str
    address: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str
    created_at: datetime
    updated_at: datetime


class NotificationDeliveries(BaseModel):
    id: int
    user_id: int
    kind: str
    params: dict[str, Any]
    link: str
    urgent: bool
    created_at: datetime
    planned_at: datetime | None
    read_at: datetime | None
    deliveries: list[DeliveryRead]
