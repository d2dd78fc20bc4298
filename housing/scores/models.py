"""Stored quality scores: one row per company and month, one more per component.

Each component row keeps everything its points came from (numerator, denominator,
sample size, the city mean and the prior strength used), so a past month's score can be
checked and recomputed from its rows alone, whatever happened to the requests since.
Recomputing a month replaces its rows; method_version says which rules made them.
"""

from datetime import date, datetime

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime


class QualityScore(SQLModel, table=True):
    __tablename__ = "quality_score"
    __table_args__ = (UniqueConstraint("company_id", "period"), Index(None, "period", "total"))

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="management_company.id")
    period: date = Field(description="First day of the local month")
    total: float = Field(description="0-100, the weighted mean of the components' points")
    method_version: int
    # Open requests and ongoing incidents are counted up to this moment.
    computed_at: datetime = Field(sa_type=UTCDateTime)


class QualityScoreComponent(SQLModel, table=True):
    __tablename__ = "quality_score_component"
    __table_args__ = (
        UniqueConstraint("company_id", "period", "component"),
        ForeignKeyConstraint(
            ["company_id", "period"],
            ["quality_score.company_id", "quality_score.period"],
            name="fk_quality_score_component_score",
            ondelete="CASCADE",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int
    period: date
    component: str = Field(sa_type=String(30))
    weight: float
    numerator: float
    denominator: float
    sample_size: int
    value: float | None = Field(default=None, description="numerator / denominator; none without a sample")
    city_mean: float | None = Field(default=None, description="The prior: pooled over the city that month")
    prior_strength: float = Field(description="k: how many observations the city mean counts as")
    shrunk: float | None = None
    points: float | None = Field(default=None, description="0-100")
