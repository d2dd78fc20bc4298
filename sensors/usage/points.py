"""A meter's readings as consumption sees them: effective values, flagged when they go backwards.

Pure: no I/O. `sensors.meters.service.effective_readings` loads the rows and calls `flag_backwards`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Staff's verdicts that make a backwards reading count (and restart the comparison from it).
COUNTING_VERDICTS = frozenset({"rollover", "replacement"})


@dataclass(frozen=True, slots=True)
class EffectivePoint:
    taken_at: datetime  # UTC
    value: Decimal  # the newest correction's value, else the value read
    source: str  # a ReadingSource: mqtt, manual, staff or estimate
    backwards: bool  # lower than the latest preceding point that counts
    verdict: str | None  # staff's review: rollover, replacement or error

    @property
    def counts(self) -> bool:
        """Whether consumption may use it: not backwards, or backwards and confirmed by staff."""
        return not self.backwards or self.verdict in COUNTING_VERDICTS


def flag_backwards(
    rows: Iterable[tuple[datetime, Decimal, str, str | None]], reference: Decimal | None = None
) -> list[EffectivePoint]:
    """Points from (taken_at, effective value, source, verdict) rows in time order.

    `reference` is the value of the latest counting point before the first row, if any.
    """
    points: list[EffectivePoint] = []
    for taken_at, value, source, verdict in rows:
        point = EffectivePoint(
            taken_at=taken_at,
            value=value,
            source=source,
            backwards=reference is not None and value < reference,
            verdict=verdict,
        )
        if point.counts:
            reference = value
        points.append(point)
    return points
