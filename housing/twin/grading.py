"""The building grade: green, yellow or red from documented components. Pure, no I/O.

Each component is a measured value with the inputs it was made from; thresholds (settings
`HOUSING_TWIN__*`) turn it into a colour, and the building's grade is its worst component's,
so an official sees at once which part made a building red. A component with no sample (no
request rated in the window, no report due yet) has no colour and does not count. A
building with no component sampled is green: nothing is known against it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Grade(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


SEVERITY = {Grade.green: 0, Grade.yellow: 1, Grade.red: 2}


# The components, in the order pages show them.
INCIDENT_HOURS = "incident_hours"  # hours of service incidents per apartment in the window
OVERDUE_REQUESTS = "overdue_requests"  # open requests past their deadline now
RATING = "rating"  # residents' mean rating (1-5) of requests rated in the window
METER_COVERAGE = "meter_coverage"  # share of apartments with a smart meter reporting
DEBT_SHARE = "debt_share"  # share of apartments with a debt past due
REPORT_ON_TIME = "report_on_time"  # the last due quarter's money report: 1 on time, 0.5 late, 0 missing
COMPONENTS = (INCIDENT_HOURS, OVERDUE_REQUESTS, RATING, METER_COVERAGE, DEBT_SHARE, REPORT_ON_TIME)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A value at or beyond `yellow` is yellow, at or beyond `red` red.

    "Beyond" is above when more is worse (incident hours) and below when less is worse
    (coverage, rating). Settings check that red is not milder than yellow.
    """

    yellow: float
    red: float
    more_is_worse: bool = True

    def grade(self, value: float) -> Grade:
        def reached(limit: float) -> bool:
            return value >= limit if self.more_is_worse else value <= limit

        if reached(self.red):
            return Grade.red
        if reached(self.yellow):
            return Grade.yellow
        return Grade.green


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    value: float | None  # None: no sample, no colour
    inputs: Mapping[str, Any] = field(default_factory=dict)  # what the value was made from, shown beside it
    grade: Grade | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "inputs": dict(self.inputs),
            "grade": self.grade.value if self.grade else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Component":
        grade = data.get("grade")
        return cls(
            data["name"], data.get("value"), dict(data.get("inputs") or {}), Grade(grade) if grade else None
        )


def measure(
    name: str, value: float | None, inputs: Mapping[str, Any], rules: Mapping[str, Thresholds]
) -> Component:
    """A component with its colour by `rules[name]`; no colour when there is no value."""
    grade = None if value is None else rules[name].grade(value)
    return Component(name, value, inputs, grade)


def building_grade(components: Iterable[Component]) -> Grade:
    """The worst colour among the components that have one; green when none has."""
    graded = [c.grade for c in components if c.grade is not None]
    return max(graded, key=SEVERITY.__getitem__, default=Grade.green)


def rules_from(settings: Any) -> dict[str, Thresholds]:
    """The thresholds of every component from `settings.twin` (one place for them)."""
    twin = settings.twin
    return {
        INCIDENT_HOURS: Thresholds(twin.incident_hours_yellow, twin.incident_hours_red),
        OVERDUE_REQUESTS: Thresholds(twin.overdue_requests_yellow, twin.overdue_requests_red),
        RATING: Thresholds(twin.rating_yellow, twin.rating_red, more_is_worse=False),
        METER_COVERAGE: Thresholds(twin.meter_coverage_yellow, twin.meter_coverage_red, more_is_worse=False),
        DEBT_SHARE: Thresholds(twin.debt_share_yellow, twin.debt_share_red),
        REPORT_ON_TIME: Thresholds(0.5, 0.0, more_is_worse=False),  # on time 1, late 0.5, missing 0
    }
