"""How long a building may be without a service before the interruption counts against the company.

The one place these numbers live. Hours of a single interruption.

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

ALLOWED_INTERRUPTION_HOURS: dict[Utility, int] = {
    Utility.cold_water: 4,
    Utility.hot_water: 4,
    Utility.heating: 16,
    Utility.gas: 4,
    Utility.electricity: 2,
    Utility.lift: 24,  # ASSUMPTION, see above
}

PLANNED_ALLOWED_INTERRUPTION_HOURS: dict[Utility, int] = {
    Utility.hot_water: 14 * 24,  # yearly maintenance of the hot-water mains
}


def allowed_interruption(utility: Utility, source: IncidentSource) -> timedelta:
    hours = ALLOWED_INTERRUPTION_HOURS[utility]
    if source is IncidentSource.planned:
        hours = PLANNED_ALLOWED_INTERRUPTION_HOURS.get(utility, hours)
    return timedelta(hours=hours)
