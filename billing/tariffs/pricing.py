"""The price of an invoice line and the service-quality deduction from it: pure functions, no I/O.

The rules (DESIGN.md, "Domain rules"):

- A tariff version has a basis and tiers. Each tier prices the units inside it: with tiers
  up to 200 / 500 / open at 600 / 800 / 1,000, 650 kWh is 200 x 600 + 300 x 800 + 150 x 1,000.
  Bounds are monthly quantities and strictly increase; the last tier is open-ended so that
  every quantity has a price. Prices are Decimal tiyin per unit (49,019.60 UZS = 4901960).
- A seasonal norm replaces the first tier's bound in its calendar months (gas: 100 m3
  March-October, 500 m3 November-February).
- A period (end exclusive) is cut at every calendar-month start and every tariff change
  inside it. Each part is priced with its own version and the norm of its month; its tier
  bounds are `bound * days_in_part / days_in_month`. The quantity of the part is
  - per_unit (metered or estimated consumption of the whole period): spread evenly over
    the period's days, `quantity * days_in_part / days_in_period`;
  - per_m2 (area), per_person (registered residents), fixed (1): a monthly quantity,
    `quantity * days_in_part / days_in_month`, so a calendar month costs one month's
    charge and a part month (a move-in, a tariff change) its days' share.
- Arithmetic is exact (fractions of days are not decimal); the amount is rounded to whole
  tiyin once per line, half up, at the end. The parts keep the exact figures so that the
  invoice line can show how its amount was reached.
- Quality deductions (`QualityRules`, read from `housing.settings.MeterSettings`; the
  defaults are shown): hot water must be at least 60 C with 5 C allowed. For each hour
  below that, every 3 C beyond the allowed deviation cuts the month's hot-water charge by
  0.1%, pro rata (7 C beyond for an hour is 7/3 x 0.1%). Hours below 40 C are instead
  billed as cold water: they are left out of the percentage and reported as a share of the
  period's hours, and `cold_water_price` prices that share of the line at the cold-water
  tariff. Heating: each hour per degree below 18 C cuts the heating charge by 0.15%. Where
  incidents overlap the worst deviation counts; an open incident runs to the period's end;
  an incident's allowed part (a planned outage within its allowance) counts for nothing;
  the deduction never exceeds the charge.
- Arithmetic: a line of one whole month at one tariff version is priced in Decimal, which
  holds it exactly (no division by days); anything else in Fractions.
"""

import calendar
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import Self

from housing.settings import MeterSettings

_ARITHMETIC = Context(prec=34)
_EXACT = Context(prec=34, traps=[Inexact])  # a result that would be rounded raises instead
_ONE = Decimal(1)
_US = timedelta(microseconds=1)
_HOUR_US = 3_600_000_000


class Basis(StrEnum):
    per_unit = "per_unit"
    per_m2 = "per_m2"
    per_person = "per_person"
    fixed = "fixed"


@dataclass(frozen=True, slots=True)
class Tier:
    """Units up to `up_to` a month (None: no upper bound) at `price_minor` tiyin each."""

    up_to: Decimal | None
    price_minor: Decimal


@dataclass(frozen=True, slots=True)
class SeasonalNorm:
    """The first tier's bound in these calendar months (1-12)."""

    months: frozenset[int]
    up_to: Decimal


@dataclass(frozen=True, slots=True)
class TariffVersion:
    """A tariff from `valid_from` until the day before `valid_until` (None: still in force)."""

    basis: Basis
    tiers: tuple[Tier, ...]
    valid_from: date
    valid_until: date | None = None
    seasonal_norms: tuple[SeasonalNorm, ...] = ()

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)

    def tiers_in(self, month: int) -> tuple[Tier, ...]:
        """The tiers as they apply in a calendar month, with its seasonal norm if any."""
        for norm in self.seasonal_norms:
            if month in norm.months and self.tiers:
                return (replace(self.tiers[0], up_to=norm.up_to), *self.tiers[1:])
        return self.tiers


@dataclass(frozen=True, slots=True)
class ChargePart:
    """The units of one tier in one part of the period, and what they cost (exact)."""

    valid_from: date  # the tariff version's
    start: date
    end: date  # exclusive
    days: int
    quantity: Decimal  # the part's share of the line's quantity
    tier: int  # 1-based
    up_to: Decimal | None  # the tier's bound, prorated to the part
    units: Decimal
    price_minor: Decimal
    subtotal: Decimal


@dataclass(frozen=True, slots=True)
class LineCharge:
    """A line's amount in tiyin (rounded once, half up), its exact value and its parts."""

    amount_minor: int
    exact: Decimal
    basis: Basis
    quantity: Decimal
    parts: tuple[ChargePart, ...]


def validate_tariff(version: TariffVersion) -> list[str]:
    """What is wrong with a tariff version, in words; empty when it can be used."""
    problems: list[str] = []
    if version.valid_until is not None and version.valid_until <= version.valid_from:
        problems.append(
            f"valid_until {version.valid_until.isoformat()} is not after valid_from {version.valid_from.isoformat()}"
        )
    tiers = version.tiers
    if not tiers:
        problems.append("no tiers: a tariff needs at least one price")
    previous: Decimal | None = None
    for n, tier in enumerate(tiers, 1):
        if tier.price_minor < 0:
            problems.append(f"tier {n}: negative price {tier.price_minor}")
        if tier.up_to is None:
            if n < len(tiers):
                problems.append(f"tier {n} is open-ended but is not the last tier")
            continue
        if n == 1 and tier.up_to <= 0:
            problems.append(f"tier 1: bound {tier.up_to} must be positive")
        elif previous is not None and tier.up_to == previous:
            problems.append(
                f"tier {n}: bound {tier.up_to} overlaps tier {n - 1}, which ends at the same bound"
            )
        elif previous is not None and tier.up_to < previous:
            problems.append(
                f"tier {n}: bound {tier.up_to} is below tier {n - 1}'s bound {previous} (tiers out of order)"
            )
        previous = tier.up_to
    if version.basis is not Basis.per_unit:
        if len(tiers) != 1 or tiers[0].up_to is not None:
            problems.append(
                f"a {version.basis} tariff has exactly one open-ended tier (got {len(tiers)} tiers)"
            )
    elif tiers and tiers[-1].up_to is not None:
        problems.append("the last tier must be open-ended (up_to=None) so that every quantity has a price")
    problems.extend(_norm_problems(version))
    return problems


def _norm_problems(version: TariffVersion) -> list[str]:
    norms, tiers = version.seasonal_norms, version.tiers
    if not norms:
        return []
    problems: list[str] = []
    if version.basis is not Basis.per_unit:
        problems.append(f"seasonal norms apply only to per_unit tariffs, not {version.basis}")
    if len(tiers) < 2:
        problems.append("a seasonal norm replaces the first tier's bound, so it needs at least two tiers")
    seen: set[int] = set()
    for norm in norms:
        if not norm.months:
            problems.append("a seasonal norm has no months")
        bad = sorted(m for m in norm.months if not 1 <= m <= 12)
        if bad:
            problems.append(f"seasonal norm months {bad} are not calendar months 1-12")
        twice = sorted(norm.months & seen)
        if twice:
            problems.append(f"months {twice} are in two seasonal norms")
        seen |= norm.months
        if norm.up_to <= 0:
            problems.append(f"seasonal norm {norm.up_to} must be positive")
        elif len(tiers) >= 2 and tiers[1].up_to is not None and norm.up_to >= tiers[1].up_to:
            problems.append(f"seasonal norm {norm.up_to} is not below tier 2's bound {tiers[1].up_to}")
    return problems


def price_line(
    quantity: Decimal | Fraction,
    versions: Sequence[TariffVersion],
    period_start: date,
    period_end: date,
) -> LineCharge:
    """The charge for `quantity` from `period_start` to `period_end` (exclusive).

    `versions` is the service's tariff history; those in force during the period must be
    valid, cover every day of it exactly once and share one basis, else ValueError.
    `quantity` may be a Fraction (a share of a building's consumption), priced exactly.
    """
    if period_end <= period_start:
        raise ValueError(f"the period must end after it starts ({period_start} .. {period_end})")
    if quantity < 0:
        raise ValueError(f"a quantity cannot be negative ({quantity})")
    segments = _segments(tuple(versions), period_start, period_end)
    if len(segments) == 1 and isinstance(quantity, Decimal):
        start, end, version = segments[0]
        if start.day == 1 and end == _next_month(start):  # one whole month at one version
            try:
                return _price_month(quantity, version, start, end)
            except Inexact:  # more digits than Decimal holds here: the exact path below
                pass
    return _price_fractions(quantity, segments, period_start, period_end)


def _price_month(quantity: Decimal, version: TariffVersion, start: date, end: date) -> LineCharge:
    """`price_line` for one whole calendar month at one version, in Decimal.

    The part is the month and the quantity is the month's, so nothing is divided by days:
    every figure is a sum or product of the quantity, bounds and prices, which Decimal holds
    exactly (Inexact is trapped, and the caller falls back to Fractions). The figures are
    given as `_decimal` gives them, so the line and its explanation are the same either way.
    """
    with localcontext(_EXACT):
        days = (end - start).days
        total = Decimal(0)
        parts: list[ChargePart] = []
        lower = Decimal(0)
        shown_quantity = _plain(quantity)
        for n, tier in enumerate(version.tiers_in(start.month), 1):
            upper = tier.up_to
            units = (quantity if upper is None else min(quantity, upper)) - lower
            if units <= 0:
                break
            subtotal = units * tier.price_minor
            total += subtotal
            parts.append(
                ChargePart(
                    valid_from=version.valid_from,
                    start=start,
                    end=end,
                    days=days,
                    quantity=shown_quantity,
                    tier=n,
                    up_to=None if upper is None else _plain(upper),
                    units=_plain(units),
                    price_minor=tier.price_minor,
                    subtotal=_plain(subtotal),
                )
            )
            if upper is None:
                break
            lower = upper
        amount = int(total.to_integral_value(rounding=ROUND_HALF_UP))
        return LineCharge(amount, _plain(total), version.basis, quantity, tuple(parts))


def _plain(value: Decimal) -> Decimal:
    """An exact Decimal as `_decimal` writes the same number: no trailing zeros, no exponent above 0."""
    shown = value.normalize(_EXACT)
    return shown if shown.as_tuple().exponent <= 0 else shown.quantize(_ONE, context=_EXACT)


def _price_fractions(
    quantity: Decimal | Fraction,
    segments: tuple[tuple[date, date, TariffVersion], ...],
    period_start: date,
    period_end: date,
) -> LineCharge:
    basis = segments[0][2].basis
    period_days = (period_end - period_start).days
    total = Fraction(0)
    parts: list[ChargePart] = []
    for start, end, version in segments:
        days = (end - start).days
        month_days = calendar.monthrange(start.year, start.month)[1]
        per = period_days if basis is Basis.per_unit else month_days
        share = Fraction(quantity) * days / per
        lower = Fraction(0)
        for n, tier in enumerate(version.tiers_in(start.month), 1):
            upper = None if tier.up_to is None else Fraction(tier.up_to) * days / month_days
            units = (share if upper is None else min(share, upper)) - lower
            if units <= 0:
                break
            subtotal = units * Fraction(tier.price_minor)
            total += subtotal
            parts.append(
                ChargePart(
                    valid_from=version.valid_from,
                    start=start,
                    end=end,
                    days=days,
                    quantity=_decimal(share),
                    tier=n,
                    up_to=None if upper is None else _decimal(upper),
                    units=_decimal(units),
                    price_minor=tier.price_minor,
                    subtotal=_decimal(subtotal),
                )
            )
            if upper is None:
                break
            lower = upper
    shown = quantity if isinstance(quantity, Decimal) else _decimal(quantity)
    return LineCharge(_half_up(total), _decimal(total), basis, shown, tuple(parts))


@functools.lru_cache(maxsize=1024)
def _segments(
    versions: tuple[TariffVersion, ...], start: date, end: date
) -> tuple[tuple[date, date, TariffVersion], ...]:
    """The period cut at month starts and tariff changes, each piece with its one version.

    Cached: a billing run prices every apartment's line of a service over the same history
    and month, and the checks need doing once (versions are frozen, so they are the key).
    """
    relevant = [
        v for v in versions if v.valid_from < end and (v.valid_until is None or v.valid_until > start)
    ]
    for version in relevant:
        problems = validate_tariff(version)
        if problems:
            raise ValueError(f"tariff from {version.valid_from.isoformat()}: {'; '.join(problems)}")
    cuts = {start, end}
    month = _next_month(start)
    while month < end:
        cuts.add(month)
        month = _next_month(month)
    for version in relevant:
        cuts.update(d for d in (version.valid_from, version.valid_until) if d is not None and start < d < end)
    segments = []
    for a, b in pairwise(sorted(cuts)):
        covering = [v for v in relevant if v.covers(a)]
        if not covering:
            raise ValueError(f"no tariff is in force on {a.isoformat()}")
        if len(covering) > 1:
            froms = " and ".join(v.valid_from.isoformat() for v in covering)
            raise ValueError(f"the tariffs from {froms} overlap on {a.isoformat()}")
        segments.append((a, b, covering[0]))
    bases = list(dict.fromkeys(version.basis.value for _, _, version in segments))
    if len(bases) > 1:
        raise ValueError(f"the basis changes within the period ({' -> '.join(bases)}); price each part apart")
    return tuple(segments)


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _decimal(value: Fraction) -> Decimal:
    return _ARITHMETIC.divide(Decimal(value.numerator), Decimal(value.denominator))


def _half_up(value: Fraction) -> int:
    whole = int((abs(value) * 2 + 1) // 2)
    return whole if value >= 0 else -whole


# Service-quality deductions


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
    period_hours = _decimal(_hours(start, end))
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
    amount = _half_up(charge_minor * rate)
    summary = f"{_shown(rate * 100)}% of {charge_minor} = {amount} tiyin" + (
        " (capped at the charge)" if capped else ""
    )
    label = utility.replace("_", " ")
    explanation = (
        f"{label}: " + "; ".join([*notes, summary]) if notes else f"{label}: no incident in the period"
    )
    return Deduction(amount, _decimal(rate * 100), _decimal(cold), period_hours, explanation)


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
        return _half_up(Fraction(self.hot_minor))


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
    amount = _half_up(hot_part + cold_part)
    explanation = (
        f"{_shown(Fraction(cold_hours))} h of {_shown(Fraction(period_hours))} below "
        f"{rules.hot_water_cold_below_c} C billed as cold water: {_shown(hot_part)} + "
        f"{_shown(cold_part)} = {amount} tiyin"
    )
    return ColdWaterPrice(amount, _decimal(hot_part), _decimal(cold_part), _decimal(share), explanation)


def _hours(a: datetime, b: datetime) -> Fraction:
    return Fraction((b - a) // _US, _HOUR_US)


def _shown(value: Fraction) -> str:
    """A figure for the explanation: at most four decimals, no trailing zeros."""
    shown = _decimal(value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize()
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
