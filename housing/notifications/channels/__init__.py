"""The external channels and the one function that opens those the settings turn on."""

from housing.notifications.channels.base import ChannelSender
from housing.notifications.channels.email import EmailChannel
from housing.notifications.channels.sms import SmsChannel
from housing.notifications.channels.telegram import TelegramChannel
from housing.settings import Settings


def open_channels(settings: Settings) -> list[ChannelSender]:
    """A sender for each channel whose settings are given (see `NotifySettings`)."""
    opened: list[ChannelSender] = []
    if settings.notify.sms_on:
        opened.append(SmsChannel(settings.notify))
    if settings.notify.telegram_on:
        opened.append(TelegramChannel(settings.notify))
    if settings.notify.email_on:
        opened.append(EmailChannel(settings.notify))
    return opened
