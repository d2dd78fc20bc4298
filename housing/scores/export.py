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


def trend_csv(periods: list, scores: list[RankedScore]) -> str:
    """A company's months as CSV, oldest first; a month without a stored score has empty cells."""
    header = ["period", "company_id", "company_name", "total", "rank", "companies"]
    header += [f"{c.code}_{field}" for c in scoring.COMPONENTS for field in ("points", "sample_size")]
    by_period = {score.period: score for score in scores}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for period in periods:
        score = by_period.get(period)
        if score is None:
            writer.writerow([f"{period:%Y-%m}"] + [""] * (len(header) - 1))
            continue
        by_code = {c.component: c for c in score.components}
        row = [
            f"{period:%Y-%m}", score.company_id, score.company_name, score.total, score.rank, score.companies,
        ]  # fmt: skip
        for component in scoring.COMPONENTS:
            stored = by_code.get(component.code)
            row += [_cell(getattr(stored, "points", None)), _cell(getattr(stored, "sample_size", None))]
        writer.writerow(row)
    return out.getvalue()
