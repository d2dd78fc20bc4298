"""Who may open a building view, in one place: the building within the actor's scope and their view of it.

A building outside the actor's scope (`housing.registry.queries.VisibleBuilding`) is 404,
for the page, its live stream and its JSON alike; inside it, staff, officials and admins
get the full view and a resident of the building the common one (`building.viewer_of`).
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.registry.models import Building
from housing.registry.queries import VisibleBuilding
from housing.twin.building import Viewer, viewer_of


@dataclass(frozen=True, slots=True)
class Seen:
    building: Building
    viewer: Viewer


def _seen_building(found: VisibleBuilding, session: SessionDep, actor: CurrentActor, today: Today) -> Seen:
    return Seen(found, viewer_of(session, actor, found.id, today))


SeenBuilding = Annotated[Seen, Depends(_seen_building)]
