"""The "in force on this day" filter of the register's dated rows.

Ownership shares, residence and building management are half-open periods
[valid_from, valid_until): a row is in force on a day when it began on or before it and has
not ended by it. Every query that asks "who owns, lives in, manages ... on this day" uses it.
"""

from typing import Any

from sqlalchemy import ColumnElement, or_


def in_force(model: Any, day: Any) -> ColumnElement[bool]:
    """`model`'s period row is in force on `day` (a date, or a SQL expression such as a column)."""
    return (model.valid_from <= day) & or_(model.valid_until.is_(None), model.valid_until > day)
