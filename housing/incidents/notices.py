"""The notices of a building's interruptions, written in the transaction that records them.

A planned outage tells every resident of its building (`outage_planned`); a sensor incident
tells the building's residents, or only the apartment's when a sensor in one flat found it
(`incident`, urgent: it passes quiet hours). Keyed by the incident, so a second run of the
detection, which finds the incident open already, notifies nobody again.
"""

from datetime import datetime

from sqlmodel import Session

from housing.incidents.models import ServiceIncident
from housing.notifications.recipients import users_of_apartments, users_of_buildings
from housing.notifications.service import notify
from housing.registry.models import Building

LINK = "/notices"
# The words the pages show a service with (templates/housing/notices.html), translated when shown.
SERVICE_WORDS = {
    "hot_water": "Hot water",
    "heating": "Heating",
    "cold_water": "Cold water",
    "electricity": "Electricity",
    "gas": "Gas",
    "lift": "Lift",
}


def _params(session: Session, incident: ServiceIncident) -> dict[str, str]:
    building = session.get(Building, incident.building_id)
    utility = str(incident.utility)
    params = {
        "service": SERVICE_WORDS.get(utility, utility),
        "building": building.address if building else "?",
        "starts": incident.started_at.isoformat(),
    }
    if incident.ended_at is not None:  # a planned outage's; a detected incident's is not known yet
        params["ends"] = incident.ended_at.isoformat()
    return params


def outage_planned(session: Session, outage: ServiceIncident, now: datetime) -> int:
    """`outage_planned` to every resident account of the outage's building."""
    return notify(
        session,
        user_ids=users_of_buildings([outage.building_id], now.date()),
        kind="outage_planned",
        params=_params(session, outage),
        link=LINK,
        dedupe=f"outage:{outage.id}",
        now=now,
    )


def incident_opened(session: Session, incident: ServiceIncident, now: datetime) -> int:
    """`incident` to the residents of the building (of the apartment, for a flat's own sensor)."""
    today = now.date()
    if incident.apartment_id is not None:
        users = users_of_apartments([incident.apartment_id], today)
    else:
        users = users_of_buildings([incident.building_id], today)
    return notify(
        session,
        user_ids=users,
        kind="incident",
        params=_params(session, incident),
        link=LINK,
        dedupe=f"incident:{incident.id}",
        now=now,
    )
