"""Escalated requests as CSV: one line per request, what the officials' list shows."""

import csv
import io
from datetime import datetime

from housing.requests.city import EscalatedRequest

HEADER = (
    "request_id", "status", "emergency", "category", "filed_at", "deadline_at", "escalated_at",
    "resolved_at", "hours_overdue", "building_id", "address", "district", "company_id", "company",
    "description",
)  # fmt: skip


def escalated_csv(rows: list[EscalatedRequest], *, now: datetime) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow(
            [
                r.id,
                r.status,
                "yes" if r.emergency else "no",
                r.category,
                _at(r.created_at),
                _at(r.deadline_at),
                _at(r.escalated_at),
                _at(r.resolved_at),
                round(r.overdue_hours(now), 1),
                r.building_id,
                r.address,
                r.district,
                r.company_id,
                r.company,
                r.description,
            ]
        )
    return out.getvalue()


def _at(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""
