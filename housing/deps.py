"""The kernel's request dependencies: the settings, the request's "now" and the city's "today".

Both times come from `housing.clock.now`, so freezing that one clock (the `frozen_clock`
fixture) freezes the routes too. Who is asking is in `housing.auth`.
"""

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Request

from housing import clock
from housing.settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _now() -> datetime:
    return clock.now()


# The request's "now" (UTC, aware).
Now = Annotated[datetime, Depends(_now)]


def _today(settings: SettingsDep) -> date:
    return clock.local_today(settings.timezone)


# The city's calendar day.
Today = Annotated[date, Depends(_today)]
