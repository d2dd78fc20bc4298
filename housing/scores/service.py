"""Quality score verbs: compute and store a month's scores, and read rankings and trends.

Each flushes and never commits: the job, the command line or the request commits once.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from housing.building_money.deadlines import ReportDeadlines
from housing.clock import Month
from housing.registry.models import District, ManagementCompany
from housing.scores import scoring
from housing.scores.inputs import count_inputs
from housing.scores.models import QualityScore, QualityScoreComponent
from housing.scores.scoring import CompanyScore, ComponentScore


def compute_scores(
    session: Session, months: Iterable[Month], *, as_of: datetime, deadlines: ReportDeadlines | None = None
) -> dict[date, list[CompanyScore]]:
    """Every company's score for each month, from the facts as they are at `as_of`; stores nothing.

    `deadlines`: when a building's quarterly report is due (settings.money; its defaults if not given)."""
    tallies = count_inputs(session, months, as_of=as_of, deadlines=deadlines)
    return {period: scoring.score_companies(companies) for period, companies in tallies.items()}


def store_scores(session: Session, period: date, scores: list[CompanyScore], *, computed_at: datetime) -> int:
    """Replaces the month's stored scores with these (set-based: one DELETE, two bulk INSERTs)."""
    session.execute(delete(QualityScoreComponent).where(QualityScoreComponent.period == period))
    session.execute(delete(QualityScore).where(QualityScore.period == period))
    if scores:
        session.execute(
            insert(QualityScore),
            [
                {
                    "company_id": s.company_id,
                    "period": period,
                    "total": s.total,
                    "method_version": scoring.METHOD_VERSION,
                    "computed_at": computed_at,
                }
                for s in scores
            ],
        )
        session.execute(
            insert(QualityScoreComponent),
            [
                {"company_id": s.company_id, "period": period, "component": c.code, **_component_fields(c)}
                for s in scores
                for c in s.components
            ],
        )
    session.flush()
    return len(scores)


def _component_fields(c: ComponentScore) -> dict:
    return {
        "weight": c.weight,
        "numerator": c.numerator,
        "denominator": c.denominator,
        "sample_size": c.sample_size,
        "value": c.value,
        "city_mean": c.city_mean,
        "prior_strength": c.prior_strength,
        "shrunk": c.shrunk,
        "points": c.points,
    }


def recompute_month(
    session: Session, month: Month, *, now: datetime, deadlines: ReportDeadlines | None = None
) -> int:
    """What the nightly job and `housing scores --period` do for one month."""
    scores = compute_scores(session, [month], as_of=now, deadlines=deadlines)[month.period]
    return store_scores(session, month.period, scores, computed_at=now)


# Reading what is stored


@dataclass
class RankedScore:
    period: date
    rank: int
    companies: int  # how many were ranked
    company_id: int
    company_name: str
    district_id: int | None
    district_name: str | None
    total: float
    method_version: int
    computed_at: datetime
    components: list[QualityScoreComponent]


def ranking(
    session: Session,
    period: date,
    *,
    district_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[RankedScore], int]:
    """The month's stored scores, best first, ranked in the city or in one district
    (the company's own district); equal totals share a rank. Returns a page and the count."""
    s, c = QualityScore, ManagementCompany
    rank = func.rank().over(order_by=s.total.desc()).label("rank")
    count = func.count().over().label("companies")
    query = (
        select(s, c.name, c.district_id, District.name.label("district_name"), rank, count)
        .join(c, c.id == s.company_id)
        .outerjoin(District, District.id == c.district_id)
        .where(s.period == period)
    )
    if district_id is not None:
        query = query.where(c.district_id == district_id)
    query = query.order_by(s.total.desc(), c.name, s.company_id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = list(session.execute(query))
    total_count = rows[0].companies if rows else _count(session, period, district_id)
    return _with_components(session, rows), total_count


def _count(session: Session, period: date, district_id: int | None) -> int:
    query = (
        select(func.count())
        .select_from(QualityScore)
        .join(ManagementCompany, ManagementCompany.id == QualityScore.company_id)
        .where(QualityScore.period == period)
    )
    if district_id is not None:
        query = query.where(ManagementCompany.district_id == district_id)
    return session.execute(query).scalar_one()


def company_trend(session: Session, company_id: int, periods: list[date]) -> list[RankedScore]:
    """One company's stored scores over these months, oldest first, each with its city rank."""
    s = QualityScore
    ranked = (
        select(
            s.id,
            func.rank().over(partition_by=s.period, order_by=s.total.desc()).label("rank"),
            func.count().over(partition_by=s.period).label("companies"),
        )
        .where(s.period.in_(periods))
        .subquery()
    )
    query = (
        select(
            s,
            ManagementCompany.name,
            ManagementCompany.district_id,
            District.name.label("district_name"),
            ranked.c.rank,
            ranked.c.companies,
        )
        .join(ranked, ranked.c.id == s.id)
        .join(ManagementCompany, ManagementCompany.id == s.company_id)
        .outerjoin(District, District.id == ManagementCompany.district_id)
        .where(s.company_id == company_id)
        .order_by(s.period)
    )
    return _with_components(session, list(session.execute(query)))


def _with_components(session: Session, rows: list) -> list[RankedScore]:
    if not rows:
        return []
    keys = {(row[0].company_id, row[0].period) for row in rows}
    found: dict[tuple[int, date], list[QualityScoreComponent]] = defaultdict(list)
    query = select(QualityScoreComponent).where(
        QualityScoreComponent.company_id.in_({k[0] for k in keys}),
        QualityScoreComponent.period.in_({k[1] for k in keys}),
    )
    for component in session.scalars(query):
        found[(component.company_id, component.period)].append(component)
    order = {c.code: i for i, c in enumerate(scoring.COMPONENTS)}
    return [
        RankedScore(
            period=score.period,
            rank=rank,
            companies=companies,
            company_id=score.company_id,
            company_name=name,
            district_id=district_id,
            district_name=district_name,
            total=score.total,
            method_version=score.method_version,
            computed_at=score.computed_at,
            components=sorted(
                found[(score.company_id, score.period)], key=lambda c: order.get(c.component, len(order))
            ),
        )
        for score, name, district_id, district_name, rank, companies in rows
    ]


def stored_components(component: QualityScoreComponent) -> ComponentScore:
    """A stored row as the pure module's type, e.g. to check it with scoring.rescore."""
    return ComponentScore(
        code=component.component,
        weight=component.weight,
        numerator=component.numerator,
        denominator=component.denominator,
        sample_size=component.sample_size,
        value=component.value,
        city_mean=component.city_mean,
        prior_strength=component.prior_strength,
        shrunk=component.shrunk,
        points=component.points,
    )


def latest_period(session: Session, until: date) -> date | None:
    """The newest month with stored scores, not after `until`'s month: where the dashboard opens."""
    query = select(func.max(QualityScore.period)).where(QualityScore.period <= until.replace(day=1))
    return session.execute(query).scalar_one_or_none()
