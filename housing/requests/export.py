"""Escalated requests as CSV: one line per request, what the officials' list shows."""

from datetime import datetime

from housing.csvtext import at, csv_text
from housing.requests.city import EscalatedRequest

HEADER = (
    "request_id", "status", "emergency", "category", "filed_at", "deadline_at", "escalated_at",
    "resolved_at", "hours_overdue", "building_id", "address", "district", "company_id", "company",
    "description",
)  # fmt: skip


def escalated_csv(rows: list[EscalatedRequest], *, now: datetime) -> str:
    return csv_text(
        HEADER,
        (
            [
                r.id,
                r.status,
                "yes" if r.emergency else "no",
                r.category,
                at(r.created_at),
                at(r.deadline_at),
                at(r.escalated_at),
                at(r.resolved_at),
                round(r.overdue_hours(now), 1),
                r.building_id,
                r.address,
                r.district,
                r.company_id,
                r.company,
                r.description,
            ]
            for r in rows
        ),
    )
