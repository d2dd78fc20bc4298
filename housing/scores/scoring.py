"""The quality score as arithmetic: components, weights, normalisation, shrinkage, total.

Pure: no database, no clock. Everything that decides a company's number is here, and
docs/quality-score.md explains it with a worked example; change any constant and
METHOD_VERSION goes up, so stored scores say which rules made them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

# 2: reports_on_time joined (weight 10), the six others scaled by 0.9 to leave room for it.
# Stored component rows keep the weight and prior they were scored with, so a version 1 month
# is recomputed from its rows unchanged (`rescore`).
METHOD_VERSION = 2

# A request that took longer than a week to resolve counts as a week: one forgotten
# request should not outweigh a month of work. It is also the worst anchor below.
RESOLVE_HOURS_CAP = 168.0


@dataclass(frozen=True)
class Component:
    code: str
    label: str
    short: str  # a column heading
    weight: float  # out of 100 for all components together
    prior_strength: float  # k, in the component's own sample units
    worst: float  # a shrunk value here (or beyond) earns 0 points
    best: float  # and here (or beyond) 100
    measures: str  # what the value is, for people


COMPONENTS: tuple[Component, ...] = (
    Component(
        code="deadline_compliance",
        short="deadline",
        label="Deadline compliance",
        weight=22.5,
        prior_strength=20,
        worst=0.0,
        best=1.0,
        measures="share of non-emergency requests due in the month that were resolved by their deadline",
    ),
    Component(
        code="time_to_resolve",
        short="resolve",
        label="Time to resolve",
        weight=13.5,
        prior_strength=20,
        worst=RESOLVE_HOURS_CAP,
        best=0.0,
        measures="mean hours from filing to resolution, each request capped at 168",
    ),
    Component(
        code="emergency_response",
        short="emergency",
        label="Emergency response",
        weight=18,
        prior_strength=10,
        worst=0.0,
        best=1.0,
        measures="share of emergency requests contained (resolved) within their emergency deadline",
    ),
    Component(
        code="resident_satisfaction",
        short="rating",
        label="Resident satisfaction",
        weight=18,
        prior_strength=20,
        worst=1.0,
        best=5.0,
        measures="mean rating (1-5) residents gave",
    ),
    Component(
        code="reopen_rate",
        short="reopen",
        label="Reopen rate",
        weight=9,
        prior_strength=20,
        worst=1.0,
        best=0.0,
        measures="share of resolved requests that residents reopened",
    ),
    Component(
        code="incident_hours",
        short="incidents",
        label="Incident hours per apartment",
        weight=9,
        prior_strength=300,  # apartments: about five buildings
        worst=24.0,
        best=0.0,
        measures="hours without a service (unplanned incidents) per apartment managed",
    ),
    Component(
        code="reports_on_time",
        short="reports",
        label="Reports on time",
        weight=10,
        prior_strength=10,  # reports: a small company's buildings for one quarter
        worst=0.0,
        best=1.0,
        measures="share of the buildings' quarterly money reports due in the month that were published by their due day",
    ),
)
BY_CODE: dict[str, Component] = {c.code: c for c in COMPONENTS}
assert sum(c.weight for c in COMPONENTS) == 100


@dataclass(frozen=True)
class Tally:
    """A component's raw inputs for one company and month."""

    numerator: float
    denominator: float  # what the shrinkage counts as n
    sample_size: int  # the same for requests; apartments (rounded) for incidents


@dataclass(frozen=True)
class ComponentScore:
    code: str
    weight: float
    numerator: float
    denominator: float
    sample_size: int
    value: float | None  # None: no sample this month
    city_mean: float | None  # None: no sample in the whole city, the component is left out
    prior_strength: float
    shrunk: float | None
    points: float | None


@dataclass(frozen=True)
class CompanyScore:
    company_id: int
    total: float
    components: tuple[ComponentScore, ...]


def city_means(tallies: Iterable[Mapping[str, Tally]]) -> dict[str, float | None]:
    """Pooled over every request (or apartment) in the city: sum of numerators / sum of denominators.

    Rounded to 6 places, as stored, so that a stored score can be recomputed from its row.
    """
    sums = {c.code: [0.0, 0.0] for c in COMPONENTS}
    for company in tallies:
        for code, tally in company.items():
            sums[code][0] += tally.numerator
            sums[code][1] += tally.denominator
    return {code: (round(num / den, 6) if den > 0 else None) for code, (num, den) in sums.items()}


def shrink(numerator: float, denominator: float, prior_mean: float, k: float) -> float:
    return (numerator + k * prior_mean) / (denominator + k)


def points(component: Component, shrunk: float) -> float:
    """Linear between the worst anchor (0 points) and the best (100), clipped at both ends."""
    share = (shrunk - component.worst) / (component.best - component.worst)
    return round(100 * min(max(share, 0.0), 1.0), 2)


def score_component(component: Component, tally: Tally, city_mean: float | None) -> ComponentScore:
    value = round(tally.numerator / tally.denominator, 6) if tally.denominator > 0 else None
    shrunk = None
    if city_mean is not None:
        shrunk = round(shrink(tally.numerator, tally.denominator, city_mean, component.prior_strength), 6)
    return ComponentScore(
        code=component.code,
        weight=component.weight,
        numerator=tally.numerator,
        denominator=tally.denominator,
        sample_size=tally.sample_size,
        value=value,
        city_mean=city_mean,
        prior_strength=component.prior_strength,
        shrunk=shrunk,
        points=None if shrunk is None else points(component, shrunk),
    )


def total(scores: Iterable[ComponentScore]) -> float | None:
    """Weighted mean of the components' points; a component nobody in the city has data for
    is left out and the others' weights are scaled up. None when nothing is left."""
    counted = [(s.weight, s.points) for s in scores if s.points is not None]
    weights = sum(w for w, _ in counted)
    if weights == 0:
        return None
    return round(sum(w * p for w, p in counted) / weights, 2)


def score_companies(tallies: Mapping[int, Mapping[str, Tally]]) -> list[CompanyScore]:
    """Scores every company of one month against that month's city means."""
    means = city_means(tallies.values())
    empty = Tally(0.0, 0.0, 0)
    scores = []
    for company_id, own in sorted(tallies.items()):
        components = tuple(score_component(c, own.get(c.code, empty), means[c.code]) for c in COMPONENTS)
        company_total = total(components)
        if company_total is not None:
            scores.append(CompanyScore(company_id, company_total, components))
    return scores


def rescore(stored: Iterable[ComponentScore]) -> float | None:
    """The total again from stored inputs, city means, weights and priors: how anyone checks a
    number, whatever method version made it (only the anchors come from the code)."""
    return total(
        score_component(
            replace(BY_CODE[s.code], weight=s.weight, prior_strength=s.prior_strength),
            Tally(s.numerator, s.denominator, s.sample_size),
            s.city_mean,
        )
        for s in stored
    )
