"""CSV text for the lists' downloads: the csv module's dialect with CRLF, and the empty cell."""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def at(moment: datetime | None) -> str:
    """A moment in ISO 8601, or an empty cell."""
    return moment.isoformat() if moment is not None else ""


def blank(value: object) -> object:
    return "" if value is None else value
