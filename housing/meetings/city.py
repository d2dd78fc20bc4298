"""What the city's officials read of owners' meetings: held, quorum, decisions, company changes.

A meeting is *held* in a period when it is closed and its vote ended within the period (on
the city's clock). Each held meeting belongs to the district of its building and to the
company that managed the building on its record date (the company whose owners voted). A
*company change* is an adopted management_company decision naming another company than
that one: the building is lost by the old company and gained by the new one. Each company's
row carries its latest quality score of a month up to the period's last one.

A handful of set-based queries over the held meetings (no query per meeting or per
company), so the page stays fast over a city of 44,000 buildings (bench/meetings.py).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.sql import Subquery
from sqlmodel import Session, col

from housing import clock
from housing.db import among
from housing.meetings.models import BuildingDecision, Meeting, MeetingQuestion, MeetingStatus
from housing.meetings.rules import DecisionKind, Outcome
from housing.registry.models import Building, BuildingManagement, District, ManagementCompany
from housing.registry.periods import in_force
from housing.scores.models import QualityScore

DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Window:
    """The months asked for, from `since` to `until` (first days, both included), as UTC bounds."""

    since: date
    until: date
    starts: datetime
    ends: datetime

    @classmethod
    def of(cls, since: date | None, until: date | None, *, today: date, timezone: str) -> "Window":
        """The months given; the last DEFAULT_MONTHS up to this month when neither is. ValueError
        when `since` comes after `until`."""
        last = clock.month_of(until or today)
        first = clock.month_of(since) if since else clock.add_months(last, -(DEFAULT_MONTHS - 1))
        if first > last:
            raise ValueError(f"the period cannot start ({first:%Y-%m}) after it ends ({last:%Y-%m})")
        return cls(
            since=first,
            until=last,
            starts=clock.local_midnight(first, timezone),
            ends=clock.local_midnight(clock.month_end(last), timezone),
        )


@dataclass(frozen=True)
class KindRow:
    kind: DecisionKind
    put: int  # questions of this kind on the agendas of the meetings held
    adopted: int
    rejected: int
    no_quorum: int


@dataclass(frozen=True)
class DistrictRow:
    district_id: int
    district: str
    meetings: int
    quorum: int
    company_changes: int


@dataclass
class CompanyRow:
    company_id: int
    company: str
    meetings: int = 0  # held in buildings it managed on their record date
    quorum: int = 0
    buildings_lost: int = 0
    buildings_gained: int = 0
    score: float | None = None
    score_period: date | None = None


@dataclass(frozen=True)
class CityMeetings:
    window: Window
    district_id: int | None
    meetings: int
    quorum: int
    company_changes: int
    kinds: list[KindRow]
    districts: list[DistrictRow]
    companies: list[CompanyRow] = field(default_factory=list)  # every company with a meeting or a change

    @property
    def decisions(self) -> int:
        return sum(row.adopted for row in self.kinds)


def _held(window: Window, district_id: int | None) -> Subquery:
    """The meetings held in the window (in the district), with the district and the company
    that managed the building on the record date."""
    query = (
        select(
            Meeting.id,
            Meeting.quorum_reached,
            Building.district_id,
            BuildingManagement.company_id,
        )
        .join(Building, Building.id == Meeting.building_id)
        .outerjoin(
            BuildingManagement,
            and_(
                BuildingManagement.building_id == Meeting.building_id,
                in_force(BuildingManagement, Meeting.record_date),
            ),
        )
        .where(
            Meeting.status == MeetingStatus.closed,
            Meeting.voting_ends >= window.starts,
            Meeting.voting_ends < window.ends,
        )
    )
    if district_id is not None:
        query = query.where(Building.district_id == district_id)
    return query.subquery("held")


def _quorum(held: Subquery):
    return func.coalesce(func.sum(case((held.c.quorum_reached.is_(True), 1), else_=0)), 0).cast(Integer)


def city_meetings(session: Session, window: Window, *, district_id: int | None = None) -> CityMeetings:
    held = _held(window, district_id)

    by_district = session.execute(
        select(held.c.district_id, func.count(), _quorum(held)).group_by(held.c.district_id)
    ).all()
    by_company = session.execute(
        select(held.c.company_id, func.count(), _quorum(held)).group_by(held.c.company_id)
    ).all()
    outcomes = session.execute(
        select(MeetingQuestion.kind, MeetingQuestion.outcome, func.count())
        .join(held, held.c.id == MeetingQuestion.meeting_id)
        .group_by(MeetingQuestion.kind, MeetingQuestion.outcome)
    ).all()
    changes = session.execute(
        select(held.c.district_id, held.c.company_id, BuildingDecision.company_id, func.count())
        .join(held, held.c.id == BuildingDecision.meeting_id)
        .where(
            BuildingDecision.kind == DecisionKind.management_company,
            col(BuildingDecision.company_id).is_not(None),
        )
        .group_by(held.c.district_id, held.c.company_id, BuildingDecision.company_id)
    ).all()

    kinds = _kinds(outcomes)
    changed_in: Counter[int] = Counter()
    companies: dict[int, CompanyRow] = {}
    for company_id, meetings, quorum in by_company:
        if company_id is not None:
            companies[company_id] = CompanyRow(company_id, "", meetings=meetings, quorum=quorum)
    for district, old, new, how_many in changes:
        if old == new:  # the owners kept their company: no change
            continue
        changed_in[district] += how_many
        if old is not None:
            companies.setdefault(old, CompanyRow(old, "")).buildings_lost += how_many
        companies.setdefault(new, CompanyRow(new, "")).buildings_gained += how_many

    names = dict(session.execute(select(District.id, District.name)).all())
    districts = sorted(
        (
            DistrictRow(district, names.get(district, ""), meetings, quorum, changed_in[district])
            for district, meetings, quorum in by_district
        ),
        key=lambda row: (row.district, row.district_id),
    )
    _name_and_score(session, companies, window.until)
    ordered = sorted(
        companies.values(),
        key=lambda row: (
            -row.buildings_lost,
            -row.buildings_gained,
            -row.meetings,
            row.company,
            row.company_id,
        ),
    )
    return CityMeetings(
        window=window,
        district_id=district_id,
        meetings=sum(row.meetings for row in districts),
        quorum=sum(row.quorum for row in districts),
        company_changes=sum(changed_in.values()),
        kinds=kinds,
        districts=districts,
        companies=ordered,
    )


def _kinds(outcomes) -> list[KindRow]:
    counts: dict[str, Counter[str | None]] = defaultdict(Counter)
    for kind, outcome, how_many in outcomes:
        counts[kind][outcome] += how_many
    return [
        KindRow(
            kind=kind,
            put=sum(counts[kind].values()),
            adopted=counts[kind][Outcome.adopted],
            rejected=counts[kind][Outcome.rejected],
            no_quorum=counts[kind][Outcome.no_quorum],
        )
        for kind in DecisionKind
        if counts[kind]
    ]


def _name_and_score(session: Session, companies: dict[int, CompanyRow], until: date) -> None:
    """Each company's name and its latest quality score of a month up to `until`: two queries."""
    if not companies:
        return
    ids = list(companies)
    for company_id, name in session.execute(
        select(ManagementCompany.id, ManagementCompany.name).where(among(session, ManagementCompany.id, ids))
    ):
        companies[company_id].company = name
    latest = (
        select(QualityScore.company_id, func.max(QualityScore.period).label("period"))
        .where(among(session, QualityScore.company_id, ids), QualityScore.period <= until)
        .group_by(QualityScore.company_id)
        .subquery()
    )
    scores = session.execute(
        select(QualityScore.company_id, QualityScore.period, QualityScore.total).join(
            latest,
            and_(latest.c.company_id == QualityScore.company_id, latest.c.period == QualityScore.period),
        )
    )
    for company_id, period, total in scores:
        companies[company_id].score = total
        companies[company_id].score_period = period
