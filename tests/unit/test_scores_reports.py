"""The quality score's `reports_on_time` component: its inputs, its weight, and old months kept."""

from dataclasses import replace
from datetime import date

import pytest
from sqlmodel import select

from housing.building_money.deadlines import ReportDeadlines
from housing.building_money.rules import Quarter
from housing.clock import month
from housing.scores import scoring, service
from housing.scores.inputs import count_inputs
from housing.scores.models import QualityScore, QualityScoreComponent
from housing.scores.scoring import BY_CODE, ComponentScore, Tally
from tests.factories.city_money import publish
from tests.factories.core import make_building, make_company, make_district
from tests.factories.scores import local

TZ = "Asia/Tashkent"
OCTOBER = month(date(2026, 10, 1), TZ)  # 2026-Q3's reports are due on 30 October
NOVEMBER = month(date(2026, 11, 1), TZ)
Q3 = Quarter(2026, 3)


@pytest.fixture
def companies(session):
    """Prompt: 3 buildings, 2 published on time, 1 a day late. Slow: 2 buildings, neither published."""
    district = make_district(session)
    prompt, slow = make_company(session, name="Prompt"), make_company(session, name="Slow")
    buildings = [make_building(session, prompt, district_id=district.id) for _ in range(3)]
    for building in buildings[:2]:
        publish(session, building, Q3, on=date(2026, 10, 30))
    for _ in range(2):
        make_building(session, slow, district_id=district.id)
    session.commit()
    return prompt, slow, buildings[2]


def publish_late(session, building, due_days=30):
    publish(session, building, Q3, on=date(2026, 10, 31), due_days=due_days)
    session.commit()


def reports(tallies, company) -> Tally | None:
    return tallies[OCTOBER.period].get(company.id, {}).get("reports_on_time")


def test_counted_in_the_month_of_the_due_day_once_the_outcome_is_known(session, companies):
    prompt, slow, last = companies
    # On the due day itself the unpublished ones are not late yet: only known outcomes count.
    on_the_day = count_inputs(session, [OCTOBER], as_of=local(2026, 10, 30, 23, 59))
    assert reports(on_the_day, prompt) == Tally(2.0, 2.0, 2)
    assert reports(on_the_day, slow) is None
    # The day after (local time), they are: missed.
    next_day = count_inputs(session, [OCTOBER], as_of=local(2026, 10, 31, 0, 1))
    assert reports(next_day, prompt) == Tally(2.0, 3.0, 3)
    assert reports(next_day, slow) == Tally(0.0, 2.0, 2)
    # Published a day late: counted, and still missed.
    publish_late(session, last)
    after = count_inputs(session, [OCTOBER], as_of=local(2026, 11, 2, 4))
    assert reports(after, prompt) == Tally(2.0, 3.0, 3)
    assert reports(after, slow) == Tally(0.0, 2.0, 2)
    # November has no report due: no sample anywhere.
    november = count_inputs(session, [NOVEMBER], as_of=local(2026, 12, 2, 4))
    assert all("reports_on_time" not in c for c in november[NOVEMBER.period].values())


def test_the_rule_comes_from_the_settings(session, companies):
    prompt, _, last = companies
    # 31 October: on time when the rule says 45 days (the report keeps on_time as published).
    publish_late(session, last, due_days=45)
    later = ReportDeadlines(due_days=45, first_quarter=Q3)  # due 14 November
    tallies = count_inputs(session, [OCTOBER, NOVEMBER], as_of=local(2026, 12, 2, 4), deadlines=later)
    assert "reports_on_time" not in tallies[OCTOBER.period].get(prompt.id, {})
    assert tallies[NOVEMBER.period][prompt.id]["reports_on_time"] == Tally(3.0, 3.0, 3)
    none_yet = ReportDeadlines(due_days=30, first_quarter=Quarter(2026, 4))
    tallies = count_inputs(session, [OCTOBER], as_of=local(2026, 11, 2, 4), deadlines=none_yet)
    assert all("reports_on_time" not in c for c in tallies[OCTOBER.period].values())


def test_the_component_weighs_in_the_total(session, companies):
    prompt, slow, last = companies
    publish_late(session, last)
    assert service.recompute_month(session, OCTOBER, now=local(2026, 11, 2, 4)) == 2
    session.commit()
    rows = {
        (c.company_id, c.component): c
        for c in session.exec(
            select(QualityScoreComponent).where(QualityScoreComponent.period == OCTOBER.period)
        )
    }
    mean = round(2 / 5, 6)
    assert rows[(prompt.id, "reports_on_time")].city_mean == mean
    assert rows[(prompt.id, "reports_on_time")].weight == 10
    shrunk = round((2 + 10 * mean) / (3 + 10), 6)
    assert rows[(prompt.id, "reports_on_time")].shrunk == shrunk
    totals = {s.company_id: s.total for s in session.exec(select(QualityScore))}
    # No requests or incidents anywhere: the reports are the whole total.
    assert totals[prompt.id] == round(100 * shrunk, 2)
    assert totals[slow.id] == round(100 * round((0 + 10 * mean) / (2 + 10), 6), 2)
    assert totals[prompt.id] > totals[slow.id]


def test_weights_still_sum_to_100_and_the_method_is_new():
    assert scoring.METHOD_VERSION == 2
    assert BY_CODE["reports_on_time"].weight == 10
    assert sum(c.weight for c in scoring.COMPONENTS) == 100
    # The six older components keep their proportions (scaled by 0.9).
    old = {"deadline_compliance": 25, "time_to_resolve": 15, "emergency_response": 20}
    old |= {"resident_satisfaction": 20, "reopen_rate": 10, "incident_hours": 10}
    assert {code: BY_CODE[code].weight for code in old} == {code: w * 0.9 for code, w in old.items()}


def _stored(code, numerator, denominator, city_mean, weight, k) -> ComponentScore:
    return ComponentScore(
        code, weight, numerator, denominator, int(denominator), None, city_mean, k, None, None
    )


def test_a_month_scored_by_method_1_is_recomputed_unchanged_from_its_rows(monkeypatch):
    """docs/quality-score.md's worked example, as method 1 stored it (weights 25, 15, 20, 20, 10, 10
    and no reports component): 83.43 then, 83.43 now."""
    rows = [
        _stored("deadline_compliance", 46, 50, 0.83, 25, 20),
        _stored("time_to_resolve", 846, 47, 20.5, 15, 20),
        _stored("emergency_response", 3, 4, 0.70, 20, 10),
        _stored("resident_satisfaction", 126, 30, 3.90, 20, 20),
        _stored("reopen_rate", 2, 47, 0.06, 10, 20),
        _stored("incident_hours", 1800, 600, 4.5, 10, 300),
    ]
    assert scoring.rescore(rows) == 83.43
    # Method 2's weights and the reports component: the docs' second figure.
    method_2 = [replace(row, weight=BY_CODE[row.code].weight) for row in rows]
    assert scoring.rescore([*method_2, _stored("reports_on_time", 4, 5, 0.9, 10, 10)]) == 83.76
    # A weight or prior changed in the code later does not change a stored month either.
    changed = replace(BY_CODE["deadline_compliance"], weight=99, prior_strength=99)
    monkeypatch.setitem(scoring.BY_CODE, "deadline_compliance", changed)
    assert scoring.rescore(rows) == 83.43
