"""CSV text for every download: the csv module's dialect with CRLF, the empty cell, and text
cells a spreadsheet will not run.

A cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return before one) is a
formula to Excel, LibreOffice and Google Sheets, so text typed by a user (a description, an
address, a company's name) could run as one when an official opens the export: OWASP's "CSV
injection". Every text cell that starts with one of those characters, their full-width forms
(U+FF1D, U+FF0B, U+FF0D, U+FF20, which some spreadsheets read as the same), or with spaces before one, is written
with a single quote in front, as OWASP advises; the quote shows, the formula does not run.
Numbers we write (int, float, Decimal) stay numbers: -1500 is a value, not text. A value
that is ours but must stay numeric is passed as a number, never as pre-formatted text.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

# What makes a spreadsheet read a cell as a formula (OWASP), and the full-width forms.
FORMULA_STARTS = frozenset("=+-@\t\r" + "\uff1d\uff0b\uff0d\uff20")
# Characters a spreadsheet may skip before it looks for the formula sign.
_LEADING = " \t\r\n\u00a0\u3000"


def safe_cell(value: object) -> object:
    """Text that could start a formula gets a leading single quote; anything else is unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in FORMULA_STARTS or value.lstrip(_LEADING)[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The one CSV writer of every export: each cell through safe_cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def at(moment: datetime | None) -> str:
    """A moment in ISO 8601, or an empty cell."""
    return moment.isoformat() if moment is not None else ""


def blank(value: object) -> object:
    return "" if value is None else value
