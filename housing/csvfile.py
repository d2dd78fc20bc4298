"""Reading an uploaded CSV file into checked rows, for every importer.

Only the format is handled here: the delimiter (a comma, or a semicolon for spreadsheets
that save that way, with a decimal comma in numbers), the header, line numbers and
limits. What a column means is the importer's business. Every problem is an
ImportRowError with the physical line number, the header being line 1, so that a user
can find it in the spreadsheet.
"""

import csv
import itertools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO, TypeVar

from pydantic import BaseModel

from housing.errors import Invalid
from housing.validation import check_text, tiyin_of


class ImportRowError(BaseModel):
    line: int
    field: str | None
    reason: str


class ImportRejected(Invalid):
    """The file had bad rows, so nothing was imported; `errors` lists every one of them."""

    def __init__(self, errors: list[ImportRowError], detail: str | None = None) -> None:
        self.errors = sorted(errors, key=lambda e: e.line)
        if detail is None:
            bad = len({e.line for e in self.errors})
            detail = f"{bad} row{'s are' if bad != 1 else ' is'} wrong; nothing was imported"
        super().__init__(detail)

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["errors"] = [e.model_dump() for e in self.errors]
        return body


def row_error(line: int, field: str | None, reason: str) -> ImportRowError:
    return ImportRowError(line=line, field=field, reason=reason)


@dataclass
class CsvRow:
    line: int  # where the record starts; a quoted cell may span several lines
    cells: dict[str, str | None]  # stripped text by column; None when empty
    extra: str | None = None  # non-empty cells outside the named columns, for the importer to refuse


RowT = TypeVar("RowT", bound=CsvRow)


def decode_upload(data: bytes, max_bytes: int) -> str:
    """The uploaded file as text, or Invalid naming the line of the first byte that is not UTF-8.

    Read at most max_bytes + 1 bytes of the upload: one byte more is enough to refuse it
    as too large without holding all of it.
    """
    if len(data) > max_bytes:
        raise Invalid(
            f"the file is larger than {max_bytes // (1024 * 1024)} MB; split it into smaller files",
            field="file",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise Invalid(
            f"the file is not UTF-8 text (line {line} has byte 0x{data[exc.start]:02x}); "
            "save it from the spreadsheet as 'CSV UTF-8'",
            field="file",
        ) from exc


def read_rows(
    stream: TextIO,
    *,
    row_type: type[RowT],
    columns: tuple[str, ...],
    required: Collection[str],
    max_rows: int,
    decimal_columns: Collection[str] = (),
    check_header: Callable[[list[str]], list[ImportRowError]] | None = None,
) -> list[RowT]:
    """The file's rows, or ImportRejected for a file that cannot be read as the importer's table.

    Each row is a `row_type`: the importer's CsvRow with room for what it makes of the cells.
    Header names are not case-sensitive; `columns` is every name allowed, in the order the
    rejection lists them. `check_header` adds the importer's own rules on the (lower-cased)
    names. With a semicolon delimiter, the cells of `decimal_columns` may use a decimal comma.
    """
    try:
        return _read(stream, row_type, columns, required, max_rows, decimal_columns, check_header)
    except UnicodeDecodeError as exc:
        # Text is decoded in blocks, so the line of the bad byte is not known here.
        reason = f"the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save it as 'CSV UTF-8'"
        raise ImportRejected([row_error(1, None, reason)], detail=f"{reason}; nothing was imported") from exc


def _read(
    stream: TextIO,
    row_type: type[RowT],
    columns: tuple[str, ...],
    required: Collection[str],
    max_rows: int,
    decimal_columns: Collection[str],
    check_header: Callable[[list[str]], list[ImportRowError]] | None,
) -> list[RowT]:
    first = stream.readline()
    if not first.strip():
        raise ImportRejected([row_error(1, None, "the file is empty; the first line must name the columns")])
    delimiter = ";" if first.count(";") > first.count(",") else ","
    decimals = decimal_columns if delimiter == ";" else ()
    reader = csv.DictReader(itertools.chain([first], stream), delimiter=delimiter)
    rows: list[RowT] = []
    try:
        reader.fieldnames = _header(reader.fieldnames or [], columns, required, check_header)
        for raw in reader:
            # line_num is where the record ends; a quoted cell may span several lines.
            line = reader.line_num - sum(v.count("\n") for v in raw.values() if isinstance(v, str))
            if len(rows) == max_rows:
                too_many = f"the file has more than {max_rows:,} rows"
                raise ImportRejected(
                    [row_error(line, None, f"{too_many}; split it into smaller files")],
                    detail=f"{too_many}; nothing was imported",
                )
            cells, extra = _cells(raw, decimals)
            rows.append(row_type(line=line, cells=cells, extra=extra))
    except csv.Error as exc:
        raise ImportRejected([row_error(reader.line_num, None, f"not readable as CSV: {exc}")]) from exc
    if not rows:
        raise ImportRejected([row_error(1, None, "the file has a header but no rows")])
    return rows


def _header(
    names: list[str],
    columns: tuple[str, ...],
    required: Collection[str],
    check_header: Callable[[list[str]], list[ImportRowError]] | None,
) -> list[str]:
    names = [n.strip().lstrip("\ufeff").lower() for n in names]
    # Spreadsheets often save a few empty columns without a name; they are ignored.
    errors = [row_error(1, n, "unknown column") for n in names if n and n not in columns]
    errors += [
        row_error(1, n, "the column appears twice")
        for n in sorted({n for n in names if n and names.count(n) > 1})
    ]
    errors += [row_error(1, n, "required column is missing") for n in required if n not in names]
    if check_header is not None:
        errors += check_header(names)
    if errors:
        raise ImportRejected(
            errors, detail=f"the header (line 1) names columns wrongly: expected {', '.join(columns)}"
        )
    return names


def _cells(
    raw: dict[str | None, Any], decimal_columns: Collection[str]
) -> tuple[dict[str, str | None], str | None]:
    """The cells by column name, and the non-empty cells that have no column."""
    cells: dict[str, str | None] = {}
    extra: list[str] = []
    for name, value in raw.items():
        if not name:  # a column without a name, or cells beyond the header (DictReader's None)
            extra += [v.strip() for v in (value if isinstance(value, list) else [value or ""]) if v.strip()]
            continue
        text = (value or "").strip()
        if name in decimal_columns:
            text = text.replace(",", ".")
        cells[name] = text or None
    return cells, ", ".join(extra) or None


def cell_errors(
    row: CsvRow, required: Collection[str], text_limits: Iterable[tuple[str, int]]
) -> list[ImportRowError]:
    """What is wrong with the row's cells before their meaning is read: cells outside the named
    columns, a required cell left empty, and a text cell `check_text` refuses or longer than its
    limit (`text_limits` pairs a column with its most characters)."""
    errors = []
    if row.extra:
        errors.append(row_error(row.line, None, f"cells outside the named columns: {row.extra[:100]}"))
    for name in required:
        if row.cells.get(name) is None:
            errors.append(row_error(row.line, name, "required"))
    for name, chars in text_limits:
        text = row.cells.get(name) or ""
        try:
            check_text(text)
        except ValueError as exc:
            errors.append(row_error(row.line, name, str(exc)))
        if len(text) > chars:
            errors.append(row_error(row.line, name, f"at most {chars} characters"))
    return errors


def tiyin_cell(cell: str) -> int:
    """A cell of UZS ("150000.50") in tiyin (`housing.validation.tiyin_of`); 0 when it is not an
    amount above zero with at most two decimals."""
    try:
        return tiyin_of(Decimal(cell)) or 0
    except InvalidOperation:
        return 0
