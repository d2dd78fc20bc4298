"""The price of an invoice line: tariff versions, tiers and seasonal norms, pure functions, no I/O.

A period is cut at month starts and tariff changes, each part priced with its own version
and tiers, exactly, and rounded once per line (the rules and worked cases:
docs/billing-rules.md, "Prices and tiers"). Deductions for poor service and hot water below
40 C billed as cold: `billing.tariffs.quality`.
"""

import calendar
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import TypeVar

from housing.clock import month_end

N = TypeVar("N", Decimal, Fraction)  # the number type the tier loop works in
_ARITHMETIC = Context(prec=34)
_EXACT = Context(prec=34, traps=[Inexact])  # a result that would be rounded raises instead
_ONE = Decimal(1)


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
        if start.day == 1 and end == month_end(start):  # one whole month at one version
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
    given as `to_decimal` gives them, so the line and its explanation are the same either way.
    """
    with localcontext(_EXACT):
        days = (end - start).days
        total, parts = _tiers(quantity, version, start, end, days, number=Decimal, bound=Decimal, show=_plain)
        amount = int(total.to_integral_value(rounding=ROUND_HALF_UP))
        return LineCharge(amount, _plain(total), version.basis, quantity, tuple(parts))


def _plain(value: Decimal) -> Decimal:
    """An exact Decimal as `to_decimal` writes the same number: no trailing zeros, no exponent above 0."""
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

        def bound(up_to: Decimal, days: int = days, month_days: int = month_days) -> Fraction:
            return Fraction(up_to) * days / month_days

        subtotal, segment_parts = _tiers(
            share, version, start, end, days, number=Fraction, bound=bound, show=to_decimal
        )
        total += subtotal
        parts.extend(segment_parts)
    shown = quantity if isinstance(quantity, Decimal) else to_decimal(quantity)
    return LineCharge(half_up(total), to_decimal(total), basis, shown, tuple(parts))


def _tiers(
    share: N,
    version: TariffVersion,
    start: date,
    end: date,
    days: int,
    *,
    number: Callable[[Decimal], N],
    bound: Callable[[Decimal], N],
    show: Callable[[N], Decimal],
) -> tuple[N, list[ChargePart]]:
    """The one tier loop: each tier prices the units of `share` inside it, in the number type N.

    Decimal for a whole month at one version (`bound` and `number` leave the figures as they
    are), Fraction otherwise (`bound` prorates a tier's bound to the part's days). `show`
    writes a figure as the explanation holds it; the total is exact.
    """
    total = number(Decimal(0))
    lower = number(Decimal(0))
    parts: list[ChargePart] = []
    for n, tier in enumerate(version.tiers_in(start.month), 1):
        upper = None if tier.up_to is None else bound(tier.up_to)
        units = (share if upper is None else min(share, upper)) - lower
        if units <= 0:
            break
        subtotal = units * number(tier.price_minor)
        total += subtotal
        parts.append(
            ChargePart(
                valid_from=version.valid_from,
                start=start,
                end=end,
                days=days,
                quantity=show(share),
                tier=n,
                up_to=None if upper is None else show(upper),
                units=show(units),
                price_minor=tier.price_minor,
                subtotal=show(subtotal),
            )
        )
        if upper is None:
            break
        lower = upper
    return total, parts


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
    month = month_end(start)
    while month < end:
        cuts.add(month)
        month = month_end(month)
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


def to_decimal(value: Fraction) -> Decimal:
    return _ARITHMETIC.divide(Decimal(value.numerator), Decimal(value.denominator))


def half_up(value: Fraction) -> int:
    whole = int((abs(value) * 2 + 1) // 2)
    return whole if value >= 0 else -whole
