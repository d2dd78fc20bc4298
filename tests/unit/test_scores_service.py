"""Storing a month's scores, reproducing them, and the nightly job."""

from datetime import date, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from housing import cli
from housing.clock import month
from housing.registry.models import ManagementCompany
from housing.scheduler import JOBS
from housing.scores import jobs, scoring, service
from housing.scores.models import QualityScore, QualityScoreComponent
from tests.factories.core import make_apartment, make_building, make_company, make_district
from tests.factories.scores import add_incident, add_request, local, make_category, make_filer
from tests.faults import fail_when

OCTOBER = month(date(2026, 10, 1), "Asia/Tashkent")
NOW = local(2026, 11, 2, 4)


def _company(session, name, district, requests, *, in_time, rating):
    company = make_company(session, name=name)
    building = make_building(session, company, district_id=district.id)
    for n in range(20):
        make_apartment(session, building, number=str(n + 1))
    category = make_category(session)
    filer = make_filer(session)
    for n in range(requests):
        late = n >= in_time
        add_request(
            session, company, building, category=category, filed_by=filer, filed=local(2026, 10, 1 + n % 28, 9),
            resolved_after=timedelta(hours=30 if late else 5), overdue=late, rating=rating,
        )  # fmt: skip
    return company, building


@pytest.fixture
def city(session):
    district = make_district(session)
    small, _ = _company(session, "Small", district, 2, in_time=2, rating=5)
    big, building = _company(session, "Big", district, 40, in_time=38, rating=4)
    plain, _ = _company(session, "Plain", district, 30, in_time=24, rating=3)
    add_incident(session, building, started=local(2026, 10, 3, 8), ended=local(2026, 10, 3, 14))
    session.commit()
    return small, big, plain


def _stored(session, period):
    scores = {
        s.company_id: s for s in session.exec(select(QualityScore).where(QualityScore.period == period))
    }
    components = list(
        session.exec(select(QualityScoreComponent).where(QualityScoreComponent.period == period))
    )
    return scores, components


def test_a_stored_score_is_reproduced_from_its_own_rows(session, city):
    small, big, _ = city
    assert service.recompute_month(session, OCTOBER, now=NOW) == 3
    session.commit()
    scores, components = _stored(session, OCTOBER.period)
    assert len(components) == 3 * len(scoring.COMPONENTS)
    for company_id, score in scores.items():
        own = [service.stored_components(c) for c in components if c.company_id == company_id]
        assert scoring.rescore(own) == score.total
        assert score.method_version == scoring.METHOD_VERSION
        assert score.computed_at == NOW
    # Two perfect requests do not beat 38 of 40 in time.
    assert scores[small.id].total < scores[big.id].total
    big_compliance = next(
        c for c in components if c.company_id == big.id and c.component == "deadline_compliance"
    )
    assert (big_compliance.numerator, big_compliance.denominator, big_compliance.sample_size) == (38, 40, 40)
    assert big_compliance.city_mean == round((2 + 38 + 24) / (2 + 40 + 30), 6)


def test_recomputing_replaces_the_month_and_gives_the_same_rows(session, city):
    service.recompute_month(session, OCTOBER, now=NOW)
    session.commit()
    first = _snapshot(session)
    service.recompute_month(session, OCTOBER, now=NOW)
    session.commit()
    assert _snapshot(session) == first  # nothing doubled, nothing changed


def test_a_stored_month_keeps_its_inputs_when_requests_change_later(session, city):
    small, _, _ = city
    service.recompute_month(session, OCTOBER, now=NOW)
    session.commit()
    before = _snapshot(session)
    building = make_building(
        session, session.get(ManagementCompany, small.id), district_id=make_district(session).id
    )
    add_request(
        session, small, building, category=make_category(session), filed_by=make_filer(session),
        filed=local(2026, 10, 20, 9), resolved_after=timedelta(hours=50), overdue=True, rating=1,
    )  # fmt: skip
    session.commit()
    assert _snapshot(session) == before  # stored rows are not recomputed behind anyone's back
    service.recompute_month(session, OCTOBER, now=NOW)
    assert _snapshot(session) != before


def _snapshot(session):
    scores, components = _stored(session, OCTOBER.period)
    return (
        sorted((s.company_id, s.total) for s in scores.values()),
        sorted(
            (c.company_id, c.component, c.numerator, c.denominator, c.city_mean, c.points) for c in components
        ),
    )


def test_nightly_job_scores_the_previous_and_the_current_month(session, settings, db, city):
    assert "nightly-scores" in {job.name for job in JOBS}
    result = jobs.nightly_scores(db, settings, now=NOW)
    assert result == "scored 2026-10: 3 companies, 2026-11: 3 companies"
    periods = set(session.exec(select(QualityScore.period)))
    assert periods == {date(2026, 10, 1), date(2026, 11, 1)}
    # Nobody in the city has a November request yet, so the request components are left out;
    # nor an incident, so the incident component gives everyone 100 points.
    november = {
        s.total for s in session.exec(select(QualityScore).where(QualityScore.period == date(2026, 11, 1)))
    }
    assert november == {100.0}


def test_a_month_that_fails_is_logged_and_the_other_months_are_scored(
    session, settings, db, city, monkeypatch, caplog
):
    recompute = fail_when(
        monkeypatch, service, "recompute_month", lambda session, month, **kw: month.period == OCTOBER.period
    )

    result = jobs.nightly_scores(db, settings, now=NOW)

    assert result == "scored 2026-10: failed, 2026-11: 3 companies (1 failed)"
    assert set(session.exec(select(QualityScore.period))) == {date(2026, 11, 1)}
    assert "2026-10" in caplog.text and "the disk is full" in caplog.text
    # The failed month is tried again the next night, and then stored.
    monkeypatch.setattr(service, "recompute_month", recompute)
    assert jobs.nightly_scores(db, settings, now=NOW + timedelta(days=1)).startswith(
        "scored 2026-10: 3 companies"
    )
    assert date(2026, 10, 1) in set(session.exec(select(QualityScore.period)))


def test_the_command_line_recomputes_a_month_and_prints_the_ranking(database_url, session, city):
    small, big, _ = city
    env = {"HOUSING_DB__URL": database_url, "HOUSING_ENVIRONMENT": "development", "COLUMNS": "200"}
    result = CliRunner().invoke(cli.app, ["scores", "--period", "2026-10"], env=env)
    assert result.exit_code == 0, result.output
    assert "Quality scores 2026-10: 3 companies scored" in result.output
    lines = [line for line in result.output.splitlines() if "│" in line]
    assert [line.split("│")[2].strip() for line in lines] == ["Big", "Small", "Plain"]
    scores, _ = _stored(session, OCTOBER.period)
    assert set(scores) >= {small.id, big.id}
    bad = CliRunner().invoke(cli.app, ["scores", "--period", "2026-1"], env=env)
    assert bad.exit_code == 2
