"""How long a building may be without a service before the interruption counts against the company.

Hours of a single interruption, read from `housing.settings.OutageSettings`
(HOUSING_OUTAGES__*): the one place these numbers live. The building's incident list, the
city dashboard (and its CSV) and billing (a planned outage counts only beyond its
allowance) all ask `allowed_interruption` with the settings they were given.
The defaults and where they come from: docs/incidents.md.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from housing.incidents.models import IncidentSource, Utility
from housing.settings import OutageSettings


def allowed_interruption(utility: Utility, source: IncidentSource, outages: OutageSettings) -> timedelta:
    """The interruption of `utility` allowed at once; a planned hot-water outage has its own allowance."""
    utility, source = Utility(utility), IncidentSource(source)
    hours = getattr(outages, f"{utility.value}_hours")
    if source is IncidentSource.planned and utility is Utility.hot_water:
        hours = outages.planned_hot_water_hours
    return timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class Interruption:
    """An incident's time against its allowance at a moment."""

    ongoing: bool  # begun and not over at that moment; the duration runs to it
    duration_hours: float
    allowed_hours: float
    over_allowance: bool


def interruption(
    utility: Utility,
    source: IncidentSource,
    started_at: datetime,
    ended_at: datetime | None,
    now: datetime,
    outages: OutageSettings,
) -> Interruption:
    """How long an incident has lasted by `now` (or lasted, when over) against what is allowed."""
    duration = max((ended_at or now) - started_at, timedelta(0))
    allowed = allowed_interruption(utility, source, outages)
    return Interruption(
        ongoing=started_at <= now and (ended_at is None or now < ended_at),
        duration_hours=round(duration.total_seconds() / 3600, 2),
        allowed_hours=allowed.total_seconds() / 3600,
        over_allowance=duration > allowed,
    )
