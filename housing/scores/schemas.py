"""API models of quality scores: a score with every component's inputs, a ranking, a trend."""

from datetime import datetime

from pydantic import BaseModel, Field

from housing.scores import scoring
from housing.scores.models import QualityScoreComponent
from housing.scores.service import RankedScore


class ComponentRead(BaseModel):
    code: str
    label: str
    measures: str = Field(description="What the value is")
    weight: float = Field(description="Share of the total, out of 100")
    numerator: float
    denominator: float = Field(description="n in the shrinkage")
    sample_size: int
    value: float | None = Field(description="numerator / denominator; null without a sample")
    city_mean: float | None = Field(description="The city's pooled value that month: the prior")
    prior_strength: float = Field(description="k: how many observations the city mean counts as")
    shrunk: float | None = Field(description="(numerator + k x city_mean) / (denominator + k)")
    points: float | None = Field(description="0-100; null when nobody in the city had a sample")

    @classmethod
    def of(cls, row: QualityScoreComponent) -> "ComponentRead":
        component = scoring.BY_CODE.get(row.component)
        return cls(
            code=row.component,
            label=component.label if component else row.component,
            measures=component.measures if component else "",
            **{name: getattr(row, name) for name in _STORED},
        )


_STORED = (
    "weight", "numerator", "denominator", "sample_size", "value",
    "city_mean", "prior_strength", "shrunk", "points",
)  # fmt: skip


class ScoreRead(BaseModel):
    period: str = Field(description="YYYY-MM")
    rank: int = Field(description="In the city, or in the district when one was asked for; ties share a rank")
    companies: int = Field(description="How many companies were ranked")
    company_id: int
    company_name: str
    district_id: int | None
    district_name: str | None
    total: float = Field(description="0-100")
    method_version: int
    computed_at: datetime = Field(description="Open requests and ongoing incidents are counted up to here")
    components: list[ComponentRead]

    @classmethod
    def of(cls, score: RankedScore) -> "ScoreRead":
        return cls(
            period=f"{score.period:%Y-%m}",
            rank=score.rank,
            companies=score.companies,
            company_id=score.company_id,
            company_name=score.company_name,
            district_id=score.district_id,
            district_name=score.district_name,
            total=score.total,
            method_version=score.method_version,
            computed_at=score.computed_at,
            components=[ComponentRead.of(c) for c in score.components],
        )


class Ranking(BaseModel):
    period: str
    district_id: int | None
    items: list[ScoreRead]
    total: int
    limit: int
    offset: int


class Trend(BaseModel):
    company_id: int
    company_name: str
    months: list[ScoreRead] = Field(description="Oldest first; a month never scored is left out")
