"""Geometry of the monthly consumption bar chart the meters page draws as inline SVG: pure, no I/O.

The template places what this computes; a month without enough readings gets no bar and
is labelled so, rather than drawn as zero.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

WIDTH = 360  # the viewBox; the SVG scales to the screen
HEIGHT = 180
TOP = 18  # room for the value above the tallest bar
BOTTOM = 22  # room for the month names
GAP = 0.25  # of each slot, between bars


@dataclass(frozen=True, slots=True)
class Bar:
    month: date
    quantity: Decimal | None  # None: too few readings to tell
    x: float
    width: float
    y: float
    height: float
    current: bool  # the month still running


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: tuple[Bar, ...]
    peak: Decimal


def bar_chart(months: list[tuple[date, Decimal | None]]) -> Chart:
    """Bars scaled to the largest month; the last month is the current one."""
    known = [q for _, q in months if q is not None and q > 0]
    peak = max(known, default=Decimal(0))
    slot = WIDTH / max(len(months), 1)
    room = HEIGHT - TOP - BOTTOM
    baseline = HEIGHT - BOTTOM
    bars = []
    for i, (month, quantity) in enumerate(months):
        share = float(quantity / peak) if quantity is not None and peak > 0 and quantity > 0 else 0.0
        height = round(room * share, 1)
        bars.append(
            Bar(
                month=month,
                quantity=quantity,
                x=round(i * slot + slot * GAP / 2, 1),
                width=round(slot * (1 - GAP), 1),
                y=round(baseline - height, 1),
                height=height,
                current=i == len(months) - 1,
            )
        )
    return Chart(width=WIDTH, height=HEIGHT, baseline=baseline, bars=tuple(bars), peak=peak)
