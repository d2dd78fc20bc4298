"""The building money's arithmetic, pure (no I/O): expense categories, quarters and their
deadlines, and the exact split of a shared expense.

Money is integer tiyin. A shared expense is split by weights (the premises' area by default)
with the largest-remainder method: every building gets the floor of its exact share, and the
tiyin left over go one each to the largest remainders, ties to the lower building id; the parts
always add up to the whole. docs/building-money.md has the worked example.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Self

from housing.errors import Invalid


class ExpenseCategory(StrEnum):
    cleaning = "cleaning"
    lifts = "lifts"
    roof_and_repairs = "roof_and_repairs"
    common_utilities = "common_utilities"  # electricity, water and heat of stairs, basements, yards
    staff = "staff"
    materials = "materials"
    capital_repair = "capital_repair"
    other = "other"


class SplitKey(StrEnum):
    """How a shared expense is divided among its buildings."""

    area = "area"  # the area of all premises of each building (the default)
    premises = "premises"  # the number of premises
    equal = "equal"  # the same part each
    manual = "manual"  # weights the company gives, with a note saying where they come from


_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True, slots=True)
class Quarter:
    year: int
    number: int  # 1-4

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4 or not 2000 <= self.year <= 2999:
            raise ValueError(f"no quarter {self.year}-Q{self.number}")

    @classmethod
    def of(cls, day: date) -> Self:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> Self:
        """'2026-Q3' -> Quarter(2026, 3); anything else is a ValueError saying the form."""
        match = _QUARTER.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not a quarter written as YYYY-QN, e.g. 2026-Q3")
        return cls(int(match[1]), int(match[2]))

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The first day after the quarter (periods are half-open)."""
        return self.next().first_day

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def next(self) -> "Quarter":
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def contains(self, day: date) -> bool:
        return self.first_day <= day < self.end

    def is_over(self, today: date) -> bool:
        return today >= self.end

    def due_on(self, due_days: int) -> date:
        """The last day a report on this quarter is on time: `due_days` days after it ends."""
        return self.last_day + timedelta(days=due_days)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"


def asked_quarter(text: str, field: str = "quarter") -> Quarter:
    """A quarter a person typed or a path carries; anything else is refused (422) naming the form."""
    try:
        return Quarter.parse(text)
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from None


def quarters_between(first: Quarter, last: Quarter) -> list[Quarter]:
    """`first` to `last`, both included; empty when `last` is before `first`."""
    found = []
    quarter = first
    while quarter <= last:
        found.append(quarter)
        quarter = quarter.next()
    return found


def split_exactly(total_minor: int, weights: Mapping[int, Decimal | Fraction | int]) -> dict[int, int]:
    """`total_minor` tiyin divided in proportion to `weights` (key -> weight > 0), exactly.

    Each key gets the floor of its exact share; the tiyin still left go one each to the
    largest remainders, ties to the lower key, so the result is the same on every run and
    the parts add up to the total.
    """
    if total_minor <= 0:
        raise ValueError(f"only a positive amount is split, not {total_minor}")
    if not weights:
        raise ValueError("split among at least one building")
    exact = {key: Fraction(weight) for key, weight in weights.items()}
    if any(weight <= 0 for weight in exact.values()):
        raise ValueError("every weight of a split must be above zero")
    whole = sum(exact.values())
    shares = {key: total_minor * weight / whole for key, weight in exact.items()}
    parts = {key: int(share) for key, share in shares.items()}  # floor: shares are positive
    left = total_minor - sum(parts.values())
    by_remainder = sorted(shares, key=lambda key: (-(shares[key] - parts[key]), key))
    for key in by_remainder[:left]:
        parts[key] += 1
    return parts
