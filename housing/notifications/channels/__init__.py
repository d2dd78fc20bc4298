"""The external channels and the one function that opens those the settings turn on."""

from housing.notifications.channels.base import ChannelSender
from housing.settings import Settings


def open_channels(settings: Settings) -> list[ChannelSender]:
    """A sender for each channel whose settings are given (see `NotifySettings`)."""
    opened: list[ChannelSender] = []
    return opened
