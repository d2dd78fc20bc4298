"""A ranking as CSV: one line per company, every component's inputs in its own columns."""

from collections.abc import Iterator

from housing.csvtext import blank, csv_text
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
    return csv_text(header, _ranking_rows(scores))


def _ranking_rows(scores: list[RankedScore]) -> Iterator[list[object]]:
    for score in scores:
        by_code = {c.component: c for c in score.components}
        row = [
            f"{score.period:%Y-%m}", score.rank, score.companies, score.company_id, score.company_name,
            score.district_name or "", score.total, score.method_version, score.computed_at.isoformat(),
        ]  # fmt: skip
        for component in scoring.COMPONENTS:
            stored = by_code.get(component.code)
            row += [blank(getattr(stored, field, None)) for field in FIELDS]
        yield row


def trend_csv(periods: list, scores: list[RankedScore]) -> str:
    """A company's months as CSV, oldest first; a month without a stored score has empty cells."""
    header = ["period", "company_id", "company_name", "total", "rank", "companies"]
    header += [f"{c.code}_{field}" for c in scoring.COMPONENTS for field in ("points", "sample_size")]
    by_period = {score.period: score for score in scores}
    return csv_text(header, _trend_rows(periods, by_period, len(header)))


def _trend_rows(periods: list, by_period: dict, width: int) -> Iterator[list[object]]:
    for period in periods:
        score = by_period.get(period)
        if score is None:
            yield [f"{period:%Y-%m}"] + [""] * (width - 1)
            continue
        by_code = {c.component: c for c in score.components}
        row = [
            f"{period:%Y-%m}", score.company_id, score.company_name, score.total, score.rank, score.companies,
        ]  # fmt: skip
        for component in scoring.COMPONENTS:
            stored = by_code.get(component.code)
            row += [blank(getattr(stored, "points", None)), blank(getattr(stored, "sample_size", None))]
        yield row
