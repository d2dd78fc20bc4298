"""How long a building may be without a service before the interruption counts against the company.

Hours of a single interruption, read from `housing.settings.OutageSettings`
(HOUSING_OUTAGES__*): the one place these numbers live. The building's incident list, the
city dashboard (and its CSV) and billing (a planned outage counts only beyond its
allowance) all ask `allowed_interruption` with the settings they were given.
The defaults and where they come from: docs/incidents.md.
"""

from datetime import timedelta

from housing.incidents.models import IncidentSource, Utility
from housing.settings import OutageSettings


def allowed_interruption(utility: Utility, source: IncidentSource, outages: OutageSettings) -> timedelta:
    """The interruption of `utility` allowed at once; a planned hot-water outage has its own allowance."""
    utility, source = Utility(utility), IncidentSource(source)
    hours = getattr(outages, f"{utility.value}_hours")
    if source is IncidentSource.planned and utility is Utility.hot_water:
        hours = outages.planned_hot_water_hours
    return timedelta(hours=hours)
