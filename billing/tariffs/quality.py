"""Deductions for poor service, and hot water below 40 C billed at the cold-water tariff: pure, no I/O.

`quality_deduction` takes a share of a month's hot-water or heating charge off for the
hours the building's incidents kept it below its norm; `cold_water_price` reprices the
hours of hot water below 40 C at the cold-water tariff of the same basis. The rules and
worked cases: docs/billing-rules.md, "Poor service".
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Self

from billing.tariffs.pricing import LineCharge, half_up, to_decimal
from housing.settings import MeterSettings

_ARITHMETIC = Context(prec=34)
_ONE = Decimal(1)
_US = timedelta(microseconds=1)
_HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class Incident:
    """A service incident as the deduction needs it; `deviation` is degrees below the norm."""

    started_at: datetime
    ended_at: datetime | None  # None: still open, counted to the period's end
    deviation: Decimal | None  # None: not measured, no deduction
    utility: str
    # The first part of the interruption that is allowed and takes nothing off (a planned
    # outage within `housing.incidents.allowances`); only what runs beyond it counts.
    allowed: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class QualityRules:
    """The norms and deduction steps; built from the settings the incident detector reads too."""

    hot_water_norm_c: Decimal
    hot_water_allowed_c: Decimal
    hot_water_step_c: Decimal
    hot_water_rate: Decimal  # of the charge, per step per hour
    hot_water_cold_below_c: Decimal
    heating_norm_c: Decimal
    heating_rate: Decimal  # of the charge, per degree per hour

    @classmethod
    def from_settings(cls, meters: MeterSettings) -> Self:
        return cls(
            hot_water_norm_c=_plain(meters.hot_water_min_c),
            hot_water_allowed_c=_plain(meters.hot_water_allowed_deviation_c),
            hot_water_step_c=_plain(meters.hot_water_step_c),
            hot_water_rate=meters.hot_water_step_deduction,
            hot_water_cold_below_c=_plain(meters.hot_water_cold_below_c),
            heating_norm_c=_plain(meters.indoor_min_c),
            heating_rate=meters.heating_deduction_per_degree_hour,
        )


def _plain(value: float | Decimal) -> Decimal:
    """A temperature as people write it: 60.0 -> 60, 57.50 -> 57.5 (never 6E+1)."""
    exact = Decimal(str(value))
    return exact.quantize(_ONE) if exact == exact.to_integral_value() else exact.normalize()


@dataclass(frozen=True, slots=True)
class Deduction:
    """What comes off a charge for poor service, and the hours to bill as cold water instead."""

    amount_minor: int
    percent: Decimal  # of the charge, capped at 100
    cold_water_hours: Decimal
    period_hours: Decimal
    explanation: str

    @property
    def cold_water_share(self) -> Decimal:
        """The share of the period when hot water was too cold (reprice it as cold water)."""
        return _ARITHMETIC.divide(self.cold_water_hours, self.period_hours)


DEFAULT_RULES = QualityRules.from_settings(MeterSettings())  # the settings' defaults, not a copy


def quality_deduction(
    charge_minor: int,
    incidents: Iterable[Incident],
    utility: str,
    period: tuple[datetime, datetime],
    rules: QualityRules = DEFAULT_RULES,
) -> Deduction:
    """The deduction from a month's `utility` charge for the incidents overlapping `period`.

    `period` is (start, end), aware datetimes, end exclusive. Only incidents of `utility`
    count; utilities without a quality rule (only hot_water and heating have one) get none.
    """
    start, end = period
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the period must be timezone-aware")
    if end <= start:
        raise ValueError(f"the period must end after it starts ({start.isoformat()} .. {end.isoformat()})")
    if charge_minor < 0:
        raise ValueError(f"a charge cannot be negative ({charge_minor})")
    utility = str(utility)
    period_hours = to_decimal(_hours(start, end))
    if utility not in ("hot_water", "heating"):
        return Deduction(0, Decimal(0), Decimal(0), period_hours, f"no quality rule for {utility}")
    rate, cold, notes = Fraction(0), Fraction(0), []
    for a, b, deviation in _worst_spans(incidents, utility, start, end):
        hours = _hours(a, b)
        when = f"{_shown(hours)} h at {_shown(deviation)} C below"
        if utility == "heating":
            rate += hours * deviation * Fraction(rules.heating_rate)
            notes.append(f"{when} {rules.heating_norm_c} C")
            continue
        norm = Fraction(rules.hot_water_norm_c)
        if norm - deviation < Fraction(rules.hot_water_cold_below_c):
            cold += hours
            notes.append(
                f"{when} {rules.hot_water_norm_c} C: below {rules.hot_water_cold_below_c} C, billed as cold water"
            )
            continue
        beyond = deviation - Fraction(rules.hot_water_allowed_c)
        if beyond > 0:
            rate += hours * beyond / Fraction(rules.hot_water_step_c) * Fraction(rules.hot_water_rate)
            notes.append(
                f"{when} {rules.hot_water_norm_c} C, {_shown(beyond)} C beyond the allowed deviation"
            )
    capped = rate > 1
    rate = min(rate, Fraction(1))
    amount = half_up(charge_minor * rate)
    summary = f"{_shown(rate * 100)}% of {charge_minor} = {amount} tiyin" + (
        " (capped at the charge)" if capped else ""
    )
    label = utility.replace("_", " ")
    explanation = (
        f"{label}: " + "; ".join([*notes, summary]) if notes else f"{label}: no incident in the period"
    )
    return Deduction(amount, to_decimal(rate * 100), to_decimal(cold), period_hours, explanation)


@dataclass(frozen=True, slots=True)
class ColdWaterPrice:
    """A hot-water line with the hours below 40 C billed as cold water.

    `hot_minor` and `cold_minor` are the exact parts (the hot-water price of the hours with
    hot water, the cold-water price of the rest); `amount_minor` is their sum rounded once,
    half up. A deduction for lukewarm water applies to the hot part only (`hot_part_minor`).
    """

    amount_minor: int
    hot_minor: Decimal
    cold_minor: Decimal
    share: Decimal  # of the period billed as cold water
    explanation: str

    @property
    def hot_part_minor(self) -> int:
        return half_up(Fraction(self.hot_minor))


def cold_water_price(
    hot: LineCharge,
    cold: LineCharge,
    cold_hours: Decimal,
    period_hours: Decimal,
    rules: QualityRules = DEFAULT_RULES,
) -> ColdWaterPrice:
    """The line's price when hot water was below 40 C for `cold_hours` of the period's `period_hours`.

    `hot` and `cold` price the same quantity on the same basis (hot- and cold-water tariffs);
    those hours' share of it is billed at the cold-water price:
    hot x (1 - share) + cold x share, rounded once, half up.
    """
    if period_hours <= 0 or not 0 <= cold_hours <= period_hours:
        raise ValueError(f"{cold_hours} cold hours do not fit a period of {period_hours} hours")
    if hot.basis is not cold.basis or hot.quantity != cold.quantity:
        raise ValueError("the hot- and cold-water charges must price the same quantity on the same basis")
    share = Fraction(cold_hours) / Fraction(period_hours)
    hot_part = Fraction(hot.exact) * (1 - share)
    cold_part = Fraction(cold.exact) * share
    amount = half_up(hot_part + cold_part)
    explanation = (
        f"{_shown(Fraction(cold_hours))} h of {_shown(Fraction(period_hours))} below "
        f"{rules.hot_water_cold_below_c} C billed as cold water: {_shown(hot_part)} + "
        f"{_shown(cold_part)} = {amount} tiyin"
    )
    return ColdWaterPrice(amount, to_decimal(hot_part), to_decimal(cold_part), to_decimal(share), explanation)


def _hours(a: datetime, b: datetime) -> Fraction:
    return Fraction((b - a) // _US, _HOUR_US)


def _shown(value: Fraction) -> str:
    """A figure for the explanation: at most four decimals, no trailing zeros."""
    shown = to_decimal(value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize()
    return f"{shown:f}"


def _worst_spans(
    incidents: Iterable[Incident], utility: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, Fraction]]:
    """The times within the period with an incident of `utility`, each with its worst deviation."""
    clipped = []
    for incident in incidents:
        if str(incident.utility) != utility or incident.deviation is None or incident.deviation <= 0:
            continue
        a = max(incident.started_at + incident.allowed, start)
        b = end if incident.ended_at is None else min(incident.ended_at, end)
        if a < b:
            clipped.append((a, b, Fraction(incident.deviation)))
    cuts = sorted({t for a, b, _ in clipped for t in (a, b)})
    spans: list[tuple[datetime, datetime, Fraction]] = []
    for a, b in pairwise(cuts):
        deviations = [d for s, e, d in clipped if s <= a and b <= e]
        if not deviations:
            continue
        worst = max(deviations)
        if spans and spans[-1][1] == a and spans[-1][2] == worst:
            spans[-1] = (spans[-1][0], b, worst)
        else:
            spans.append((a, b, worst))
    return spans
