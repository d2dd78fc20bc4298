"""The city's incidents as CSV: one line per incident, what the officials' list shows."""

import csv
import io
from datetime import datetime

from housing.incidents.city import CityIncident

HEADER = (
    "incident_id", "utility", "source", "started_at", "ended_at", "ongoing", "duration_hours",
    "allowed_hours", "over_allowance", "deviation", "building_id", "address", "district",
    "company_id", "company", "detail",
)  # fmt: skip


def incidents_csv(rows: list[CityIncident]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow(
            [
                r.id,
                r.utility,
                r.source,
                r.started_at.isoformat(),
                _at(r.ended_at),
                "yes" if r.ongoing else "no",
                r.duration_hours,
                r.allowed_hours,
                "yes" if r.over_allowance else "no",
                "" if r.deviation is None else r.deviation,
                r.building_id,
                r.address,
                r.district,
                _blank(r.company_id),
                _blank(r.company),
                r.detail,
            ]
        )
    return out.getvalue()


def _at(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _blank(value: object) -> object:
    return "" if value is None else value
