"""Which building a citizen means: our building id, the nearest one to a point, or an address.

Open311 clients know where the problem is, not our building ids. A point is matched to the
nearest building within a radius (a phone's fix near the entrance is a few tens of metres
off); an address must name exactly one building.
"""

from math import asin, cos, radians, sin, sqrt

from sqlalchemy import func
from sqlmodel import Session, select

from housing.errors import Invalid
from housing.open311.schemas import Place
from housing.registry.models import Building

EARTH_RADIUS_M = 6_371_000
METRES_PER_DEGREE = 111_320  # of latitude, and of longitude at the equator


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance; exact enough for a radius of a few hundred metres."""
    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(sqrt(a))


def locate_building(session: Session, place: Place, *, radius_m: float) -> Building:
    if place.address_id is not None:
        building = session.get(Building, place.address_id)
        if building is None:
            raise Invalid(f"address_id {place.address_id} is not a building we know", field="address_id")
        return building
    if place.lat is not None and place.long is not None:
        return _nearest(session, place.lat, place.long, radius_m)
    return _by_address(session, place.address_string or "")


def _nearest(session: Session, lat: float, lon: float, radius_m: float) -> Building:
    # A bounding box the database can use, then the exact distance on the few inside it.
    dlat = radius_m / METRES_PER_DEGREE
    dlon = radius_m / (METRES_PER_DEGREE * max(cos(radians(lat)), 0.01))
    candidates = session.exec(
        select(Building).where(
            Building.latitude.between(lat - dlat, lat + dlat),
            Building.longitude.between(lon - dlon, lon + dlon),
        )
    ).all()
    by_distance = sorted((distance_m(lat, lon, b.latitude, b.longitude), b.id, b) for b in candidates)
    if not by_distance or by_distance[0][0] > radius_m:
        raise Invalid(
            f"no building of ours within {radius_m:.0f} m of {lat}, {lon}; "
            "send the address_string or address_id",
            field="lat",
        )
    return by_distance[0][2]


def _by_address(session: Session, address: str) -> Building:
    wanted = " ".join(address.split())
    # lower() on both sides, so the database folds case the same way for both.
    matches = session.exec(
        select(Building).where(func.lower(Building.address) == func.lower(wanted)).limit(2)
    ).all()
    if not matches:
        raise Invalid(f"no building of ours at {wanted!r}; send lat and long instead", field="address_string")
    if len(matches) > 1:
        raise Invalid(
            f"{wanted!r} is the address of buildings in several districts; send lat and long instead",
            field="address_string",
        )
    return matches[0]
