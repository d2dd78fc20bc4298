"""Which quarterly reports are due, from whom, and in what state: at the day's boundaries."""

from datetime import UTC, date, datetime

import pytest

from housing.building_money.deadlines import ReportDeadlines, ReportState, by_company, due_reports
from housing.building_money.rules import Quarter
from housing.clock import add_months
from housing.registry import service as registry
from housing.settings import MoneySettings
from tests.factories.city_money import day_after, publish
from tests.factories.core import make_building, make_company, make_district

RULE = ReportDeadlines.of(MoneySettings())  # 30 days, from 2026-Q3
Q3 = Quarter(2026, 3)
DUE = date(2026, 10, 30)  # Q3 ends 30 September; 30 days later


def states(session, today, rule=RULE, **kw) -> dict[tuple[int, str], ReportState]:
    found, total = due_reports(session, rule, today, **kw)
    assert total == len(found)
    return {(r.building_id, str(r.quarter)): r.state for r in found}


def test_the_rule_from_settings():
    assert ReportDeadlines(30, Q3) == RULE
    assert Q3.due_on(RULE.due_days) == DUE
    assert ReportDeadlines.of(MoneySettings(report_due_days=45, reports_from="2027-Q1")) == ReportDeadlines(
        45, Quarter(2027, 1)
    )


def test_nothing_is_due_before_the_quarter_is_over(session):
    make_building(session)
    assert states(session, date(2026, 9, 30)) == {}
    assert due_reports(session, RULE, date(2026, 9, 30)) == ([], 0)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 10, 1), ReportState.not_yet_due),  # the quarter is over, the report not yet due
        (DUE, ReportState.not_yet_due),  # the due day itself is still on time
        (day_after(DUE), ReportState.late),  # the day after: late
    ],
)
def test_an_unpublished_report_at_the_boundaries(session, today, expected):
    building = make_building(session)
    assert states(session, today) == {(building.id, "2026-Q3"): expected}


@pytest.mark.parametrize(
    ("published", "expected", "days_late"),
    [
        (date(2026, 10, 2), ReportState.published_on_time, 0),
        (DUE, ReportState.published_on_time, 0),
        (day_after(DUE), ReportState.published_late, 1),
        (date(2026, 12, 1), ReportState.published_late, 32),
    ],
)
def test_a_published_report_at_the_boundaries(session, published, expected, days_late):
    building = make_building(session)
    publish(session, building, Q3, on=published)
    found, _ = due_reports(session, RULE, date(2027, 1, 5))
    assert [(r.building_id, str(r.quarter), r.state, r.days_late) for r in found] == [
        (building.id, "2026-Q3", expected, days_late),
        (building.id, "2026-Q4", ReportState.not_yet_due, 0),
    ]


def test_a_late_report_counts_its_days_up_to_today(session):
    make_building(session)
    found, _ = due_reports(session, RULE, date(2026, 11, 9))
    assert [(r.state, r.days_late) for r in found] == [(ReportState.late, 10)]


def test_quarters_before_reports_from_are_never_due(session):
    building = make_building(session)  # managed since 2020
    assert set(states(session, date(2026, 11, 9))) == {(building.id, "2026-Q3")}
    earlier = ReportDeadlines(30, Quarter(2026, 1))
    assert states(session, date(2026, 11, 9), earlier) == {
        (building.id, "2026-Q1"): ReportState.late,
        (building.id, "2026-Q2"): ReportState.late,
        (building.id, "2026-Q3"): ReportState.late,
    }


@pytest.mark.parametrize(
    ("handed_over", "responsible"),
    [
        (date(2026, 9, 30), "new"),  # the new company managed it on the last day
        (date(2026, 10, 1), "old"),  # the old one managed it through 30 September
    ],
)
def test_the_company_managing_on_the_last_day_owes_the_report(session, handed_over, responsible):
    old, new = make_company(session, name="Old"), make_company(session, name="New")
    building = make_building(session, old)
    registry.change_management(session, building, company_id=new.id, valid_from=handed_over)
    found, _ = due_reports(session, RULE, day_after(DUE))
    assert [(r.company_id, r.state) for r in found] == [({"old": old, "new": new}[responsible].id, "late")]
    assert [(c.company_id, c.late) for c in by_company(session, RULE, day_after(DUE))] == [
        ({"old": old, "new": new}[responsible].id, 1)
    ]


def test_a_building_nobody_managed_on_the_last_day_owes_nothing(session):
    make_building(session, managed_from=date(2026, 10, 1))
    assert states(session, day_after(DUE)) == {}


def test_by_company_counts_every_state_most_late_first(session):
    district, elsewhere = make_district(session), make_district(session)
    good, bad = make_company(session, name="Good"), make_company(session, name="Bad")
    on_time = make_building(session, good, district_id=district.id)
    published_late = make_building(session, good, district_id=district.id)
    late = [make_building(session, bad, district_id=district.id) for _ in range(2)]
    far = make_building(session, bad, district_id=elsewhere.id)
    publish(session, on_time, Q3, on=DUE)
    publish(session, published_late, Q3, on=day_after(DUE))
    publish(session, far, Q3, on=date(2026, 10, 5))
    today = date(2026, 11, 9)
    rows = by_company(session, RULE, today)
    assert [
        (c.company_name, c.due, c.published_on_time, c.published_late, c.late, c.not_yet_due) for c in rows
    ] == [
        ("Bad", 3, 1, 0, 2, 0),
        ("Good", 2, 1, 1, 0, 0),
    ]
    in_district = by_company(session, RULE, today, district_id=elsewhere.id)
    assert [(c.company_name, c.due, c.late) for c in in_district] == [("Bad", 1, 0)]
    assert by_company(session, RULE, today, quarter=Quarter(2026, 4)) == []  # not over yet
    found, total = due_reports(session, RULE, today, states=frozenset({ReportState.late}), limit=1)
    assert total == 2 and [r.building_id for r in found] == [min(b.id for b in late)]
    found, _ = due_reports(session, RULE, today, states=frozenset({ReportState.late}), limit=1, offset=1)
    assert [r.building_id for r in found] == [max(b.id for b in late)]
    assert due_reports(session, RULE, today, company_id=good.id)[1] == 2


@pytest.mark.parametrize(
    ("rule", "month", "quarters"),
    [
        (RULE, date(2026, 10, 1), ["2026-Q3"]),
        (RULE, date(2026, 11, 1), []),
        (RULE, date(2027, 1, 1), ["2026-Q4"]),  # Q4 ends 31 December, due 30 January
        (RULE, date(2026, 7, 1), []),  # Q2 is before reports_from
        (ReportDeadlines(1, Q3), date(2026, 10, 1), ["2026-Q3"]),  # due 1 October
        (ReportDeadlines(365, Q3), date(2027, 9, 1), ["2026-Q3"]),  # due 30 September a year on
        (ReportDeadlines(92, Q3), date(2026, 12, 1), ["2026-Q3"]),  # 31 December
    ],
)
def test_the_quarters_due_in_a_month(rule, month, quarters):
    assert [str(q) for q in rule.quarters_due_between(month, add_months(month, 1))] == quarters


@pytest.mark.parametrize(
    ("published_utc", "days_late"),
    [
        ((2026, 11, 1, 18, 59), 2),  # 23:59 on 1 November in Tashkent
        ((2026, 11, 1, 19, 0), 3),  # 00:00 on 2 November in Tashkent, still 1 November in UTC
    ],
)
def test_days_late_count_the_citys_days(session, published_utc, days_late):
    report = publish(session, make_building(session), Q3, on=date(2026, 11, 1))
    report.published_at = datetime(*published_utc, tzinfo=UTC)
    session.flush()
    found, _ = due_reports(session, RULE, date(2026, 11, 20))
    assert [(r.state, r.days_late) for r in found] == [(ReportState.published_late, days_late)]
