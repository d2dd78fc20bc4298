"""The score's arithmetic with exact numbers: shrinkage, normalisation, weights, total."""

from datetime import UTC, date, datetime

import pytest

from housing import clock
from housing.scores import scoring
from housing.scores.scoring import BY_CODE, Tally


def _compliance(met: int, due: int) -> dict[str, Tally]:
    return {"deadline_compliance": Tally(met, due, due)}


def test_two_perfect_requests_rank_below_two_hundred_at_95_percent():
    companies = {1: _compliance(2, 2), 2: _compliance(190, 200)}
    companies |= {n: _compliance(80, 100) for n in range(3, 13)}  # ten ordinary companies at 80%
    scores = {s.company_id: s for s in scoring.score_companies(companies)}
    # The city mean is pooled over every request: (2 + 190 + 10 x 80) / (2 + 200 + 10 x 100).
    assert scores[1].components[0].city_mean == round(992 / 1202, 6) == 0.825291
    # (2 + 20 x 0.825291) / (2 + 20): two requests barely move the company off the city mean.
    assert scores[1].components[0].shrunk == 0.841174
    assert scores[1].total == 84.12
    # (190 + 20 x 0.825291) / (200 + 20): two hundred requests nearly speak for themselves.
    assert scores[2].components[0].shrunk == 0.938663
    assert scores[2].total == 93.87
    assert scores[1].total < scores[2].total
    # Without shrinkage the small company would have come first.
    assert scores[1].components[0].value == 1.0 > scores[2].components[0].value == 0.95


def test_shrinkage_formula():
    assert scoring.shrink(2, 2, 0.8, 20) == pytest.approx(18 / 22)
    assert scoring.shrink(0, 0, 0.8, 20) == 0.8  # no sample: exactly the city mean


@pytest.mark.parametrize(
    ("code", "shrunk", "points"),
    [
        ("deadline_compliance", 0.9, 90.0),
        ("time_to_resolve", 42.0, 75.0),  # 42 of the 168 hours that earn nothing
        ("time_to_resolve", 0.0, 100.0),
        ("time_to_resolve", 200.0, 0.0),  # clipped
        ("emergency_response", 0.5, 50.0),
        ("resident_satisfaction", 4.0, 75.0),  # (4 - 1) / (5 - 1)
        ("resident_satisfaction", 1.0, 0.0),
        ("reopen_rate", 0.1, 90.0),
        ("incident_hours", 6.0, 75.0),  # 6 of 24 hours per apartment
        ("incident_hours", 30.0, 0.0),
    ],
)
def test_points_are_linear_between_worst_and_best(code, shrunk, points):
    assert scoring.points(BY_CODE[code], shrunk) == points


def test_total_is_the_weighted_mean_and_leaves_out_components_nobody_has_data_for():
    companies = {
        1: {"deadline_compliance": Tally(8, 10, 10), "emergency_response": Tally(1, 2, 2)},
        2: {"deadline_compliance": Tally(8, 10, 10), "emergency_response": Tally(1, 2, 2)},
    }
    (one, _) = scoring.score_companies(companies)
    by_code = {c.code: c for c in one.components}
    # City means 0.8 and 0.5 equal each company's own values, so shrinking changes nothing.
    assert by_code["deadline_compliance"].points == 80.0
    assert by_code["emergency_response"].points == 50.0
    # Nobody in the city was rated: that component has no city mean and no points.
    assert by_code["resident_satisfaction"].city_mean is None
    assert by_code["resident_satisfaction"].points is None
    # (25 x 80 + 20 x 50) / (25 + 20)
    assert one.total == 66.67


def test_a_company_without_a_sample_gets_the_city_mean():
    companies = {1: _compliance(9, 10), 2: _compliance(7, 10), 3: {}}
    scores = {s.company_id: s for s in scoring.score_companies(companies)}
    quiet = scores[3].components[0]
    assert (quiet.value, quiet.sample_size, quiet.shrunk, quiet.points) == (None, 0, 0.8, 80.0)


def test_the_city_mean_is_pooled_not_a_mean_of_means():
    means = scoring.city_means([_compliance(1, 1), _compliance(0, 99)])
    assert means["deadline_compliance"] == 0.01


def test_a_stored_score_is_reproduced_from_its_inputs():
    companies = {
        1: {"deadline_compliance": Tally(7, 9, 9), "time_to_resolve": Tally(41.5, 7, 7), "incident_hours": Tally(12, 40, 40)},
        2: {"deadline_compliance": Tally(50, 60, 60), "time_to_resolve": Tally(300, 58, 58), "incident_hours": Tally(900, 310, 310)},
    }  # fmt: skip
    for score in scoring.score_companies(companies):
        assert scoring.rescore(score.components) == score.total


def test_weights_add_up_to_100_and_every_component_has_a_prior():
    assert sum(c.weight for c in scoring.COMPONENTS) == 100
    assert all(c.prior_strength > 0 and c.worst != c.best for c in scoring.COMPONENTS)


def test_months_follow_the_tashkent_calendar():
    october = clock.month(date(2026, 10, 17), "Asia/Tashkent")
    assert october.period == date(2026, 10, 1)
    assert october.starts == datetime(2026, 9, 30, 19, tzinfo=UTC)
    assert october.ends == datetime(2026, 10, 31, 19, tzinfo=UTC)
    assert clock.parse_period("2026-10") == date(2026, 10, 1)
    with pytest.raises(ValueError, match="2026-10"):
        clock.parse_period("2026-13")
    assert clock.last_months(date(2026, 2, 14), 3) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
