"""Cost per m2 compared across buildings, companies and districts: the statistics, pure.

Each building's figure is what its published report spent in a category (or in all of them)
divided by the area of all its premises: tiyin per m2. A building of zero area has no figure
and is left out. Over the buildings selected (one quarter; one category or all; the city or
one district), each company and each district gets:

- the **median** of its buildings' figures (half spend more, half less; with an even number,
  the mean of the two middle ones), which a few extreme buildings do not move;
- **n**, how many buildings it is;
- its **outliers**: buildings far from the figures of every building selected, by the
  modified z-score of Iglewicz and Hoaglin (1993):

      M = 0.6745 * (figure - median of all) / MAD,  MAD = median of |figure - median of all|

  a building with |M| > 3.5 is an outlier (high or low). 0.6745 makes MAD comparable to a
  standard deviation for normal data. When more than half the figures are equal, MAD is 0;
  then the mean absolute deviation is used instead (M = (figure - median) / (1.253314 * meanAD),
  as IBM SPSS does), and when every figure is equal, nothing is an outlier.

A company's (or district's) own median is also marked when it is an outlier among the
companies' (districts') medians by the same rule, so one company spending three times the
others per m2 stands out even if all its buildings agree with each other.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

THRESHOLD = 3.5  # Iglewicz-Hoaglin's cut-off for |M|
MAD_SCALE = 0.6745  # the 0.75 quantile of the standard normal
MEAN_AD_SCALE = 1.253314  # sqrt(pi / 2): mean absolute deviation to a standard deviation


class Direction(StrEnum):
    high = "high"
    low = "low"


class BuildingFigure(NamedTuple):
    """A building's published spending and area (a tuple: a city's 44,000 are read straight
    from the database rows)."""

    building_id: int
    company_id: int
    district_id: int
    amount_minor: int
    area_m2: Decimal | float


@dataclass(frozen=True)
class Spread:
    median: float
    mad: float  # median absolute deviation
    mean_ad: float  # mean absolute deviation, the fallback when MAD is 0

    def z(self, value: float) -> float | None:
        """The modified z-score of `value`, or None when every value is the same."""
        if self.mad > 0:
            return MAD_SCALE * (value - self.median) / self.mad
        if self.mean_ad > 0:
            return (value - self.median) / (MEAN_AD_SCALE * self.mean_ad)
        return None

    def outlier(self, value: float) -> Direction | None:
        z = self.z(value)
        if z is None or abs(z) <= THRESHOLD:
            return None
        return Direction.high if z > 0 else Direction.low

    @property
    def reach(self) -> float | None:
        """How far from the median a value may be and not be an outlier: |M| <= THRESHOLD
        written as a distance, to test a city's buildings with one subtraction each."""
        if self.mad > 0:
            return THRESHOLD * self.mad / MAD_SCALE
        if self.mean_ad > 0:
            return THRESHOLD * MEAN_AD_SCALE * self.mean_ad
        return None


@dataclass(frozen=True)
class Group:
    """A company's or a district's buildings in the selection."""

    key: int
    n: int
    median_per_m2: float
    total_minor: int
    area_m2: Decimal
    outliers_high: list[int]  # building ids
    outliers_low: list[int]
    z: float | None  # its median's modified z-score among the groups' medians
    outlier: Direction | None


@dataclass(frozen=True)
class Comparison:
    n: int  # buildings with a figure
    excluded: int  # buildings of zero area, left out
    spread: Spread | None  # over every building's figure; None without any
    companies: list[Group]
    districts: list[Group]
    outliers: dict[int, Direction]  # building id -> which side


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones when there is an even number)."""
    if not values:
        raise ValueError("the median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def spread(values: Sequence[float]) -> Spread:
    centre = median(values)
    deviations = [abs(v - centre) for v in values]
    return Spread(median=centre, mad=median(deviations), mean_ad=sum(deviations) / len(deviations))


def compare(figures: Iterable[BuildingFigure | tuple]) -> Comparison:
    """The comparison of the buildings given (one quarter, one category or all).

    Written for a city's 44,000 buildings in one pass: each group keeps its values, its spending
    and its area as it goes, and only the outliers (a few) are looked up again."""
    values: dict[int, float] = {}
    keys: dict[int, tuple[int, int]] = {}
    companies: dict[int, _Members] = {}
    districts: dict[int, _Members] = {}
    excluded = 0
    for building_id, company_id, district_id, amount, area in figures:
        if not area > 0:
            excluded += 1
            continue
        value = amount / float(area)
        values[building_id] = value
        keys[building_id] = (company_id, district_id)
        for groups, key in ((companies, company_id), (districts, district_id)):
            members = groups.get(key)
            if members is None:
                members = groups[key] = _Members()
            members.values.append(value)
            members.total_minor += amount
            members.area_m2 += float(area)
    if not values:
        return Comparison(n=0, excluded=excluded, spread=None, companies=[], districts=[], outliers={})
    city = spread(list(values.values()))
    outliers: dict[int, Direction] = {}
    reach = city.reach
    if reach is not None:
        high, low = city.median + reach, city.median - reach
        for building_id, value in values.items():
            if value > high or value < low:
                side = Direction.high if value > high else Direction.low
                outliers[building_id] = side
                company_id, district_id = keys[building_id]
                companies[company_id].outliers.append((building_id, side))
                districts[district_id].outliers.append((building_id, side))
    return Comparison(
        n=len(values),
        excluded=excluded,
        spread=city,
        companies=_groups(companies),
        districts=_groups(districts),
        outliers=outliers,
    )


class _Members:
    __slots__ = ("area_m2", "outliers", "total_minor", "values")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.total_minor = 0
        self.area_m2 = 0.0
        self.outliers: list[tuple[int, Direction]] = []


def _groups(members: dict[int, _Members]) -> list[Group]:
    medians = {key: median(group.values) for key, group in members.items()}
    among = spread(list(medians.values())) if len(medians) > 1 else None
    groups = []
    for key, group in members.items():
        found = sorted(group.outliers)
        groups.append(
            Group(
                key=key,
                n=len(group.values),
                median_per_m2=medians[key],
                total_minor=group.total_minor,
                area_m2=Decimal(str(round(group.area_m2, 2))),
                outliers_high=[i for i, side in found if side is Direction.high],
                outliers_low=[i for i, side in found if side is Direction.low],
                z=among.z(medians[key]) if among else None,
                outlier=among.outlier(medians[key]) if among else None,
            )
        )
    return sorted(groups, key=lambda g: (-g.median_per_m2, g.key))
