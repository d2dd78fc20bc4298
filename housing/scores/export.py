"""A ranking as CSV: one line per company, every component's inputs in its own columns."""

import csv
import io

from housing.scores import scoring
from housing.scores.service import RankedScore

FIELDS = (
    "value",
    "numerator",
    "denominator",
    "sample_size",
    "city_mean",
    "prior_strength",
    "shrunk",
    "points",
)


def ranking_csv(scores: list[RankedScore]) -> str:
    header = [
        "period", "rank", "companies", "company_id", "company_name", "district",
        "total", "method_version", "computed_at",
    ]  # fmt: skip
    header += [f"{c.code}_{field}" for c in scoring.COMPONENTS for field in FIELDS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for score in scores:
        by_code = {c.component: c for c in score.components}
        row = [
            f"{score.period:%Y-%m}", score.rank, score.companies, score.company_id, score.company_name,
            score.district_name or "", score.total, score.method_version, score.computed_at.isoformat(),
        ]  # fmt: skip
        for component in scoring.COMPONENTS:
            stored = by_code.get(component.code)
            row += [_cell(getattr(stored, field, None)) for field in FIELDS]
        writer.writerow(row)
    return out.getvalue()


def _cell(value: object) -> object:
    return "" if value is None else value
