"""Geometry of the building view's temperature charts (the last 24 hours) as inline SVG: pure, no I/O.

Each hour with measurements is a point at its middle: the mean of the building's sensors
of one kind, with the band from the coldest to the warmest sensor around it. An hour
without measurements breaks the line (drawn as separate segments), never as zero. The
norm, when given, is a dashed line so a reader sees at once which hours fell short.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

WIDTH = 360  # the viewBox; the SVG scales to the screen
HEIGHT = 160
LEFT = 30  # room for the degree labels
RIGHT = 6
TOP = 8
BOTTOM = 20  # room for the hour labels
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Hour:
    """One hour's measurements of a kind: their mean, coldest and warmest, and how many."""

    start: datetime
    mean: Decimal
    low: Decimal
    high: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class Point:
    hour: Hour
    x: float
    y: float
    y_low: float
    y_high: float


@dataclass(frozen=True, slots=True)
class Tick:
    label: str  # a degree value or an hour, formatted by the template
    at: float  # y for degrees, x for hours
    value: Decimal | datetime


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    left: float
    right: float
    baseline: float
    points: tuple[Point, ...]
    segments: tuple[str, ...]  # SVG polyline "x,y x,y ..." of hours in a row
    bands: tuple[str, ...]  # SVG polygon points: low..high around each segment
    degrees: tuple[Tick, ...]
    hours: tuple[Tick, ...]
    norm: Decimal | None
    norm_y: float | None

    @property
    def empty(self) -> bool:
        return not self.points


def _scale(lows: list[Decimal], highs: list[Decimal], norm: Decimal | None) -> tuple[Decimal, Decimal]:
    values = lows + highs + ([norm] if norm is not None else [])
    if not values:
        return Decimal(0), Decimal(10)
    floor, ceiling = min(values), max(values)
    pad = max((ceiling - floor) / 10, Decimal(1))
    return (floor - pad).to_integral_value(rounding="ROUND_FLOOR"), (ceiling + pad).to_integral_value(
        rounding="ROUND_CEILING"
    )


def line_chart(
    hours: list[Hour], start: datetime, end: datetime, norm: Decimal | None = None, timezone: str = "UTC"
) -> LineChart:
    """The hours within [start, end) placed on the chart; `start` and `end` aware, end > start.

    The hour marks, every 6 hours from `start`, are labelled in local time (`timezone`)."""
    if end <= start:
        raise ValueError("the chart's end must be after its start")
    hours = sorted((h for h in hours if start <= h.start < end), key=lambda h: h.start)
    floor, ceiling = _scale([h.low for h in hours], [h.high for h in hours], norm)
    span = (end - start).total_seconds()
    inner_w = WIDTH - LEFT - RIGHT
    baseline = HEIGHT - BOTTOM
    inner_h = baseline - TOP

    def x_of(at: datetime) -> float:
        return round(LEFT + inner_w * (at - start).total_seconds() / span, 1)

    def y_of(value: Decimal) -> float:
        return round(baseline - inner_h * float((value - floor) / (ceiling - floor)), 1)

    points = tuple(Point(h, x_of(h.start + HOUR / 2), y_of(h.mean), y_of(h.low), y_of(h.high)) for h in hours)
    runs: list[list[Point]] = []
    for point in points:
        if runs and point.hour.start - runs[-1][-1].hour.start == HOUR:
            runs[-1].append(point)
        else:
            runs.append([point])
    segments = tuple(" ".join(f"{p.x},{p.y}" for p in run) for run in runs)
    bands = tuple(
        " ".join([f"{p.x},{p.y_high}" for p in run] + [f"{p.x},{p.y_low}" for p in reversed(run)])
        for run in runs
    )
    step = max((ceiling - floor) / 4, Decimal(1))
    degrees, value = [], floor
    while value <= ceiling:
        degrees.append(Tick(f"{value:.0f}", y_of(value), value))
        value += step.to_integral_value(rounding="ROUND_CEILING")
    marks, at = [], start
    while at <= end:
        marks.append(Tick(at.astimezone(ZoneInfo(timezone)).strftime("%H:%M"), x_of(at), at))
        at += timedelta(hours=6)
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        baseline=baseline,
        points=points,
        segments=segments,
        bands=bands,
        degrees=tuple(degrees),
        hours=tuple(marks),
        norm=norm,
        norm_y=y_of(norm) if norm is not None else None,
    )
