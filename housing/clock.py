"""Local dates: periods, deadlines and scopes follow the city's calendar, not UTC's.

`now()` is the one clock: "today" and the local time derive from it, and the calendar jobs
stamp what they issue with it, so a test freezes time by overriding `now` alone.
"""

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from housing.db import utcnow


def now() -> datetime:
    """The current moment (UTC, aware)."""
    return utcnow()


def local_now(timezone: str) -> datetime:
    return now().astimezone(ZoneInfo(timezone))


def local_today(timezone: str) -> date:
    return local_now(timezone).date()


def _today(request: Request) -> date:
    return local_today(request.app.state.settings.timezone)


Today = Annotated[date, Depends(_today)]


def _now() -> datetime:
    return utcnow()


# The request's "now" (UTC) as a dependency, so a test can freeze it with dependency_overrides.
Now = Annotated[datetime, Depends(_now)]
