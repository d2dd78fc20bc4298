"""What every input must be before a route sees it: the types of path, query, header, form and body fields.

One place for the bounds that keep hostile input away from the database and the calendar
code, so that it is answered 422 naming the field and never reaches them as a 500:

- integers within the column they are compared with or stored in (PostgreSQL's integer
  is 32 bits: an id of 2**31 is an error there, not "not found");
- dates, datetimes and months within a sane range of years (year 1 and 9999 overflow the
  month arithmetic and PostgreSQL's timestamps);
- text without NUL or other control characters (PostgreSQL refuses NUL in text, XML 1.0
  cannot carry them) and without lone UTF-16 surrogates (they cannot be encoded);
- JSON values of the type the field declares: `false` is not the number 0, nor is 0 false
  or 1 January 1970.

Route parameters use the Annotated types below (`Id`, `Offset`, `Text`, `Day`, `Moment`,
`Month`, ...); API bodies derive from `InputModel`, which checks every field's text and
its JSON type, whatever the field's own annotation says. A test walks every
route and every body model and fails on a field that escapes these rules.
"""

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import Interval
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

# PostgreSQL's integer and bigint.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# Money in tiyin: far above any real amount (10 trillion UZS), and low enough that the sum
# of a city's amounts still fits a bigint.
MONEY_MAX = 10**15
CENT = Decimal("0.01")

# Years the platform records: readings, payments, tariffs, billing and score months, outages.
FIRST_YEAR, LAST_YEAR = 2000, 2100
# Years the register may reach back to: flats were privatised from 1993, buildings and meters
# are older than the platform.
FIRST_REGISTER_YEAR = 1900

# C0 controls but tab, line feed and carriage return; DEL; lone surrogates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_NUMBERS = (int, float, Decimal, Fraction)


def check_text(value: str) -> str:
    """The text as given, or ValueError naming the first character that may not be stored."""
    found = _FORBIDDEN.search(value)
    if found is not None:
        char = found.group()
        name = unicodedata.name(char, "control character" if ord(char) < 0xD800 else "lone surrogate")
        raise ValueError(
            f"contains U+{ord(char):04X} ({name}); control characters other than tab and line breaks are not allowed"
        )
    return value


def tiyin_of(amount: Decimal, *, signed: bool = False) -> int | None:
    """An amount of UZS in tiyin, or None when it is not one: not finite, finer than a tiyin,
    zero, negative (unless `signed`) or beyond MONEY_MAX."""
    try:
        exact = amount.is_finite() and amount == amount.quantize(CENT)
    except InvalidOperation:  # too many digits to quantize: far beyond any amount
        return None
    if not exact or amount == 0 or (amount < 0 and not signed) or abs(amount) * 100 > MONEY_MAX:
        return None
    return int(amount * 100)


def typed_tiyin(text: str, *, signed: bool = False) -> int | None:
    """UZS as people type them ("150000.50", "150 000,50") in tiyin; None when not one (`tiyin_of`)."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None
    return tiyin_of(amount, signed=signed)


def parse_id(text: str) -> int | None:
    """A row id typed as text ("42"), or None when it is not one: ASCII digits within `Id`'s range.

    For the pages' and Open311's fields that arrive as text ("" for "any"); str.isdigit would
    let "²" through to int(), and a long number would overflow the column.
    """
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(INT32_MAX)):
        return None
    value = int(text)
    return value if 1 <= value <= INT32_MAX else None


def parse_day(text: str) -> date | None:
    """A day typed as text (2026-11-20), or None when it is not one or falls outside `Day`'s years."""
    try:
        return check_year(date.fromisoformat(text.strip()))
    except ValueError:
        return None


def _years(first: int, last: int):
    def check(value: date) -> date:
        # A datetime is a date too; its year as given (a bound of 2100 leaves room for any offset).
        if not first <= value.year <= last:
            raise ValueError(f"the year must be from {first} to {last}, not {value.year}")
        return value

    check.years = (first, last)  # read by the test that every date is bounded
    return check


check_year = _years(FIRST_YEAR, LAST_YEAR)
"""The date or datetime as given, or ValueError when its year is outside 2000..2100."""
_register_years = _years(FIRST_REGISTER_YEAR, LAST_YEAR)

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


def month_start(text: str) -> date:
    """'2026-10' -> 1 October 2026; ValueError for another shape or a month outside 2000-01..2100-12."""
    if not _MONTH.match(text):
        raise ValueError(f"a month looks like 2026-10, not {text!r}")
    day = date(int(text[:4]), int(text[5:7]), 1)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"the month must be from {FIRST_YEAR}-01 to {LAST_YEAR}-12, not {text}")
    return day


def _month(value: str) -> str:
    month_start(value)
    return value


_month.years = (FIRST_YEAR, LAST_YEAR)

# Numbers
Int32 = Annotated[int, Interval(ge=-INT32_MAX - 1, le=INT32_MAX)]
"""Any integer that fits PostgreSQL's integer; the field's own rules may be narrower."""
Id = Annotated[int, Interval(ge=1, le=INT32_MAX)]
"""A row's id (PostgreSQL integer): in a path, a filter or a body."""
Offset = Annotated[int, Interval(ge=0, le=INT32_MAX)]
PageNumber = Annotated[int, Interval(ge=1, le=1_000_000)]
"""A page of an HTML list, from 1 (a million pages of up to a thousand rows keep the offset an integer)."""
Money = Annotated[int, Interval(ge=-MONEY_MAX, le=MONEY_MAX)]
"""Tiyin, either sign (a credit is negative)."""
PositiveMoney = Annotated[int, Interval(gt=0, le=MONEY_MAX)]

# Text
Text = Annotated[str, AfterValidator(check_text)]
"""Any text a client sends: no NUL, no control characters but tab and line breaks."""

# Calendar
Day = Annotated[date, AfterValidator(check_year)]
"""A day the platform records: a payment, a tariff's start, a filter; years 2000-2100."""
RegisterDay = Annotated[date, AfterValidator(_register_years)]
"""A day in the register's past: an ownership since 1993, a building managed since; years 1900-2100."""
Moment = Annotated[datetime, AfterValidator(check_year)]
"""A datetime, with or without its offset; years 2000-2100."""
AwareMoment = Annotated[AwareDatetime, AfterValidator(check_year)]
"""A datetime with its offset; years 2000-2100."""
Month = Annotated[
    str,
    Field(pattern=MONTH_PATTERN, description='A month as "YYYY-MM", from 2000-01 to 2100-12'),
    AfterValidator(_month),
]


def _types_in(annotation: Any) -> set[type]:
    """The plain types an annotation may take: int | None -> {int, NoneType}; list[int] -> {list, int}."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _types_in(get_args(annotation)[0])
    if origin in (Union, UnionType) or origin is not None:
        found = {origin} if isinstance(origin, type) else set()
        for arg in get_args(annotation):
            found |= _types_in(arg)
        return found
    return {annotation} if isinstance(annotation, type) else set()


def _check_value(value: Any, types: set[type]) -> None:
    """JSON's own types as the field declares them; pydantic alone would read true as 1, 0 as
    false and 0 as 1 January 1970."""
    if isinstance(value, bool):
        if bool not in types and types & set(_NUMBERS):
            raise ValueError("must be a number, not true or false")
    elif isinstance(value, int | float):
        if bool in types and not types & set(_NUMBERS):
            raise ValueError("must be true or false, not a number")
        if types & {date, datetime} and not types & set(_NUMBERS):
            raise ValueError("a date is written as text: 2026-11-20, or 2026-11-20T10:00:00+05:00")
    elif isinstance(value, str):
        check_text(value)
        if bool in types and str not in types:
            raise ValueError("must be true or false, not text")
    elif isinstance(value, list | tuple):
        for item in value:
            _check_value(item, types)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key))
            _check_value(item, set())


class InputModel(BaseModel):
    """The base of every model a client fills (JSON bodies, forms).

    Every string in it, nested ones too, is checked like `Text`; a value must be of the JSON
    type its field declares: true and false are not numbers, numbers are neither booleans nor
    dates (pydantic would read them as 1, 0, false and 1 January 1970).
    """

    @field_validator("*", mode="before")
    @classmethod
    def _plain_input(cls, value: Any, info: ValidationInfo) -> Any:
        _check_value(value, _types_in(cls.model_fields[info.field_name].annotation))
        return value
