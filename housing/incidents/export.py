"""The city's incidents as CSV: one line per incident, what the officials' list shows."""

from housing.csvtext import at, blank, csv_text
from housing.incidents.city import CityIncident

HEADER = (
    "incident_id", "utility", "source", "started_at", "ended_at", "ongoing", "duration_hours",
    "allowed_hours", "over_allowance", "deviation", "building_id", "address", "district",
    "company_id", "company", "detail",
)  # fmt: skip


def incidents_csv(rows: list[CityIncident]) -> str:
    return csv_text(
        HEADER,
        (
            [
                r.id,
                r.utility,
                r.source,
                r.started_at.isoformat(),
                at(r.ended_at),
                "yes" if r.ongoing else "no",
                r.duration_hours,
                r.allowed_hours,
                "yes" if r.over_allowance else "no",
                "" if r.deviation is None else r.deviation,
                r.building_id,
                r.address,
                r.district,
                blank(r.company_id),
                blank(r.company),
                r.detail,
            ]
            for r in rows
        ),
    )
