"""Every component's raw inputs and sample size, counted in SQL for a hand-built October."""

from datetime import date, timedelta

import pytest

from housing.clock import month
from housing.incidents.models import IncidentSource, Utility
from housing.registry import service as registry
from housing.requests.models import RequestStatus
from housing.scores.inputs import count_inputs
from housing.scores.scoring import Tally
from tests.factories.core import make_apartment, make_building, make_company, make_district
from tests.factories.scores import add_incident, add_request, local, make_category, make_filer

OCTOBER = month(date(2026, 10, 1), "Asia/Tashkent")
AS_OF = local(2026, 11, 1, 0, 30)  # half an hour into November, Tashkent time


@pytest.fixture
def october(session):
    """Company A: one building of 10 apartments all month, and from 16 October a second one of
    5 apartments, which company B managed until then."""
    district = make_district(session)
    a = make_company(session, name="A")
    b = make_company(session, name="B")
    home = make_building(session, a, district_id=district.id)
    handed_over = make_building(session, b, district_id=district.id)
    for number in range(10):
        make_apartment(session, home, number=str(number + 1))
    for number in range(5):
        make_apartment(session, handed_over, number=str(number + 1))
    registry.change_management(session, handed_over, company_id=a.id, valid_from=date(2026, 10, 16))
    day = make_category(session)
    filer = make_filer(session)

    def request(filed, **kw):
        return add_request(session, a, home, category=day, filed_by=filer, filed=filed, **kw)

    # 1: resolved in 10 hours, in time, rated 5.
    request(local(2026, 10, 5, 9), resolved_after=timedelta(hours=10), rating=5)
    # 2: resolved late (30 h against 24), flagged overdue, rated 2, reopened once and resolved again.
    request(local(2026, 10, 6, 9), resolved_after=timedelta(hours=30), overdue=True, rating=2, reopen_count=1)
    # 3: still open past its deadline; the minute sweep has not flagged it yet: missed all the same.
    request(local(2026, 10, 20, 9))
    # 4: filed late on the 31st; its deadline has not come: not due yet.
    request(local(2026, 10, 31, 23))
    # 5: rejected before its deadline: neither met nor missed.
    request(local(2026, 10, 7, 9), status=RequestStatus.rejected)
    # 6: an emergency contained in 20 minutes, rated 4.
    request(
        local(2026, 10, 8, 9),
        emergency=True,
        deadline=timedelta(minutes=30),
        resolved_after=timedelta(minutes=20),
        rating=4,
    )
    # 7: an emergency contained in 50 minutes: late.
    request(
        local(2026, 10, 9, 9),
        emergency=True,
        deadline=timedelta(minutes=30),
        resolved_after=timedelta(minutes=50),
        overdue=True,
    )
    # 8: filed 10 minutes into October local time (still 30 September in UTC), a week's deadline,
    # resolved after 200 hours: late, and its time counts as the 168-hour cap.
    request(
        local(2026, 10, 1, 0, 10),
        deadline=timedelta(days=7),
        resolved_after=timedelta(hours=200),
        overdue=True,
    )
    # 9: filed 10 minutes before October began in Tashkent: September's.
    request(local(2026, 9, 30, 23, 50), resolved_after=timedelta(hours=1), rating=1)
    # Company B's request in October, to show the grouping.
    add_request(
        session, b, handed_over, category=day, filed_by=filer, filed=local(2026, 10, 3, 9),
        resolved_after=timedelta(hours=2), rating=5,
    )  # fmt: skip

    # Incidents of A's home building (10 apartments).
    add_incident(
        session, home, started=local(2026, 10, 31, 20), ended=local(2026, 11, 1, 4)
    )  # 4 h in October
    flat = make_apartment(session, home, number="99")  # an 11th apartment
    add_incident(
        session, home, started=local(2026, 10, 10, 10), ended=local(2026, 10, 10, 16),
        utility=Utility.heating, apartment_id=flat.id,
    )  # fmt: skip  # one cold flat for 6 h
    add_incident(
        session, home, started=local(2026, 10, 12, 8), ended=local(2026, 10, 12, 16),
        utility=Utility.cold_water, source=IncidentSource.planned,
    )  # fmt: skip  # announced maintenance: not counted
    add_incident(
        session, home, started=local(2026, 10, 31, 22), ended=None, utility=Utility.gas
    )  # ongoing: 2 h
    add_incident(
        session, home, started=local(2026, 9, 3, 8), ended=local(2026, 9, 3, 20), utility=Utility.lift
    )
    # The handed-over building (5 apartments): a day-long outage across the handover at midnight.
    add_incident(session, handed_over, started=local(2026, 10, 15, 12), ended=local(2026, 10, 16, 12))
    session.flush()
    return a, b


def test_request_components_inputs_and_sample_sizes(session, october):
    a, b = october
    inputs = count_inputs(session, [OCTOBER], as_of=AS_OF)[OCTOBER.period]
    mine = inputs[a.id]
    # Due: 1, 2, 3 and 8 (4 is not due yet, 5 was rejected in time); met: only 1.
    assert mine["deadline_compliance"] == Tally(1.0, 4.0, 4)
    # Resolved: 1 (10 h), 2 (30 h), 6 (1/3 h), 7 (5/6 h), 8 (200 h, capped at 168).
    assert mine["time_to_resolve"] == Tally(round(10 + 30 + 1 / 3 + 5 / 6 + 168, 4), 5.0, 5)
    assert mine["emergency_response"] == Tally(1.0, 2.0, 2)
    assert mine["resident_satisfaction"] == Tally(11.0, 3.0, 3)  # 5 + 2 + 4
    assert mine["reopen_rate"] == Tally(1.0, 5.0, 5)
    assert inputs[b.id]["resident_satisfaction"] == Tally(5.0, 1.0, 1)
    assert inputs[b.id]["time_to_resolve"] == Tally(2.0, 1.0, 1)


def test_incident_hours_follow_the_management_history_and_the_month(session, october):
    a, b = october
    inputs = count_inputs(session, [OCTOBER], as_of=AS_OF)[OCTOBER.period]
    # A: 11 apartments all month, and 5 for the 16 of 31 days after the handover.
    apartments_a = round(11 + 5 * 16 / 31, 4)
    # 4 h x 11 apartments (the building's outage, clipped at the end of October)
    # + 6 h x 1 (the cold flat) + 2 h x 11 (ongoing gas outage, up to the end of October)
    # + 12 h x 5 (the handed-over building after midnight of the 16th).
    assert inputs[a.id]["incident_hours"] == Tally(4 * 11 + 6 + 2 * 11 + 12 * 5, apartments_a, 14)
    # B: 5 apartments for 15 days, and the 12 hours before the handover.
    assert inputs[b.id]["incident_hours"] == Tally(60.0, round(5 * 15 / 31, 4), 2)


def test_months_are_counted_together_and_apart(session, october):
    a, _ = october
    september = month(date(2026, 9, 1), "Asia/Tashkent")
    both = count_inputs(session, [september, OCTOBER], as_of=AS_OF)
    assert both[OCTOBER.period] == count_inputs(session, [OCTOBER], as_of=AS_OF)[OCTOBER.period]
    # Request 9 (filed 23:50 on 30 September, Tashkent) and the September lift outage.
    assert both[september.period][a.id]["resident_satisfaction"] == Tally(1.0, 1.0, 1)
    assert both[september.period][a.id]["incident_hours"] == Tally(12.0 * 11, 11.0, 11)


def test_a_month_without_facts_has_no_inputs(session, october):
    assert count_inputs(session, [month(date(2019, 1, 1), "Asia/Tashkent")], as_of=AS_OF) == {
        date(2019, 1, 1): {}
    }
