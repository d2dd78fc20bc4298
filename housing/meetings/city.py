"""What the city's officials read of owners' meetings: held, quorum, decisions, company changes.

A meeting is *held* in a period when it is closed and its vote ended within the period (on
the city's clock). Each held meeting belongs to the district of its building and to the
company that managed the building on its record date (the company whose owners voted). A
*company change* is an adopted management_company decision naming another company than
that one: the building is lost by the old company and gained by the new one. Each company's
row carries its latest quality score of a month up to the period's last one (read for the
page of companies shown only).

Three set-based queries over the held meetings and two for the companies' names and scores
(no query per meeting or per company), so the page stays fast over a city of 44,000
buildings (bench/meetings.py).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Integer, and_, case, func, select
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
    # Every company with a meeting or a change, those that lost buildings first, then those that
    # gained, then by meetings held; without names and scores until `describe` reads a page's.
    companies: list[CompanyRow] = field(default_factory=list)

    @property
    def decisions(self) -> int:
        return sum(row.adopted for row in self.kinds)


def _in_window(query, window: Window, district_id: int | None, *, joined: bool = True):
    """`query` (over Meeting) kept to the meetings held in the window and the district (joining
    Building for it unless `joined` says the query has it already)."""
    query = query.where(
        Meeting.status == MeetingStatus.closed,
        Meeting.voting_ends >= window.starts,
        Meeting.voting_ends < window.ends,
    )
    if district_id is None:
        return query
    if not joined:
        query = query.join(Building, Building.id == Meeting.building_id)
    return query.where(Building.district_id == district_id)


_MANAGING = and_(
    BuildingManagement.building_id == Meeting.building_id,
    in_force(BuildingManagement, Meeting.record_date),
)


def city_meetings(session: Session, window: Window, *, district_id: int | None = None) -> CityMeetings:
    """Three queries over the meetings held: by district and company together, the questions'
    outcomes by kind, and the company changes; then the companies' names and scores."""
    quorum = func.coalesce(func.sum(case((Meeting.quorum_reached.is_(True), 1), else_=0)), 0).cast(Integer)
    held = session.execute(
        _in_window(
            select(Building.district_id, BuildingManagement.company_id, func.count(), quorum)
            .join(Building, Building.id == Meeting.building_id)
            .outerjoin(BuildingManagement, _MANAGING),
            window,
            district_id,
        ).group_by(Building.district_id, BuildingManagement.company_id)
    ).all()
    outcomes = session.execute(
        _in_window(
            select(MeetingQuestion.kind, MeetingQuestion.outcome, func.count()).join(
                Meeting, Meeting.id == MeetingQuestion.meeting_id
            ),
            window,
            district_id,
            joined=False,
        ).group_by(MeetingQuestion.kind, MeetingQuestion.outcome)
    ).all()
    changes = session.execute(
        _in_window(
            select(
                Building.district_id, BuildingManagement.company_id, BuildingDecision.company_id, func.count()
            )
            .join(Meeting, Meeting.id == BuildingDecision.meeting_id)
            .join(Building, Building.id == Meeting.building_id)
            .outerjoin(BuildingManagement, _MANAGING)
            .where(
                BuildingDecision.kind == DecisionKind.management_company,
                col(BuildingDecision.company_id).is_not(None),
            ),
            window,
            district_id,
        ).group_by(Building.district_id, BuildingManagement.company_id, BuildingDecision.company_id)
    ).all()

    by_district: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    companies: dict[int, CompanyRow] = {}
    for district, company_id, meetings, quorum_reached in held:
        by_district[district][0] += meetings
        by_district[district][1] += quorum_reached
        if company_id is not None:
            row = companies.setdefault(company_id, CompanyRow(company_id, ""))
            row.meetings += meetings
            row.quorum += quorum_reached
    changed_in: Counter[int] = Counter()
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
            DistrictRow(district, names.get(district, ""), meetings, quorum_reached, changed_in[district])
            for district, (meetings, quorum_reached) in by_district.items()
        ),
        key=lambda row: (row.district, row.district_id),
    )
    ordered = sorted(
        companies.values(),
        key=lambda row: (
            -row.buildings_lost,
            -row.buildings_gained,
            -row.meetings,
            row.company_id,
        ),
    )
    return CityMeetings(
        window=window,
        district_id=district_id,
        meetings=sum(row.meetings for row in districts),
        quorum=sum(row.quorum for row in districts),
        company_changes=sum(changed_in.values()),
        kinds=_kinds(outcomes),
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


def describe(session: Session, rows: list[CompanyRow], until: date) -> list[CompanyRow]:
    """The rows (a page of `CityMeetings.companies`) with each company's name and its latest
    quality score of a month up to `until`: two queries, whatever the page's length."""
    companies = {row.company_id: row for row in rows}
    if not companies:
        return rows
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
    return rows
