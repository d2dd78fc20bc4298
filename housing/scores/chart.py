"""Geometry of a company's 12-month score chart, drawn as inline SVG by the template: pure, no I/O.

The score is 0-100, so the vertical scale is fixed (grid lines every 25 points) and two
companies' charts can be compared by eye. A month without a stored score gets no point
and breaks the line, rather than being drawn as zero.
"""

from dataclasses import dataclass
from datetime import date

WIDTH = 360  # the viewBox; the SVG scales to the screen
HEIGHT = 200
LEFT = 26  # room for the scale's labels
RIGHT = 8
TOP = 16  # room for the value above the highest point
BOTTOM = 22  # room for the month names
GRID = (0, 25, 50, 75, 100)


@dataclass(frozen=True, slots=True)
class Point:
    month: date
    total: float | None  # None: no score stored for the month
    x: float
    y: float  # on the baseline when there is no score


@dataclass(frozen=True, slots=True)
class GridLine:
    value: int
    y: float


@dataclass(frozen=True, slots=True)
class TrendChart:
    width: int
    height: int
    left: float
    right: float
    baseline: float
    points: tuple[Point, ...]
    grid: tuple[GridLine, ...]
    lines: tuple[str, ...]  # SVG polyline `points`, one per run of months with a score


def _y(total: float) -> float:
    room = HEIGHT - TOP - BOTTOM
    return round(HEIGHT - BOTTOM - room * min(max(total, 0.0), 100.0) / 100, 1)


def trend_chart(months: list[tuple[date, float | None]]) -> TrendChart:
    """One point per month, left to right, oldest first."""
    slot = (WIDTH - LEFT - RIGHT) / max(len(months), 1)
    points = tuple(
        Point(
            month=month,
            total=total,
            x=round(LEFT + slot * (i + 0.5), 1),
            y=_y(total) if total is not None else float(HEIGHT - BOTTOM),
        )
        for i, (month, total) in enumerate(months)
    )
    lines: list[str] = []
    run: list[str] = []
    for point in points:
        if point.total is None:
            if run:
                lines.append(" ".join(run))
            run = []
            continue
        run.append(f"{point.x},{point.y}")
    if run:
        lines.append(" ".join(run))
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        baseline=HEIGHT - BOTTOM,
        points=points,
        grid=tuple(GridLine(value=v, y=_y(v)) for v in GRID),
        lines=tuple(lines),
    )
