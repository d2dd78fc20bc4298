"""How long a building may be without a service before the interruption counts against the company.

Hours of a single interruption, read from `housing.settings.OutageSettings`
(HOUSING_OUTAGES__*): the one place these numbers live. The building's incident list, the
city dashboard (and its CSV) and billing (a planned outage counts only beyond its
allowance) all ask `allowed_interruption` with the settings they were given.

The defaults and where they come from:

SOURCE / ASSUMPTION: no Uzbek figure was at hand, so these follow the Russian utility
rules that Uzbek practice mirrors: Government Resolution No. 354 of 6 May 2011, Annex 1
(cold and hot water: 4 hours at once, 8 a month; heating: 16 hours at once while rooms
stay at 12-22 C, 24 a month; gas: 4 hours a month; electricity: 2 hours with two
independent supplies, as multi-storey buildings with lifts have). Lifts are not in those
rules; 24 hours is an ASSUMPTION matching the 1-day deadline of a lift request.
A planned hot-water shutdown for the yearly maintenance of the mains may last 14 days
(SanPiN 2.1.4.2496-09), so a planned hot-water outage is held to that instead.
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
