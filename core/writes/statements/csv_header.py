"""The header row of a CSV export: where it is, which delimiter it uses, which column is which.

Banks put account details, balances and export dates above the header, and some write Excel's
`sep=;` line first; the header is the first of the top lines that names at least two known
columns (see `columns` for the names) including a date or an amount. A row that does not fit
the header later gets a hint when another delimiter would have split it right.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from itertools import islice

from core.writes.statements.columns import EXAMPLES, ColumnMap, map_columns
from core.writes.statements.detect import TextSource
from core.writes.statements.errors import InvalidStatement, LineError, UnsupportedFormat

DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
# Banks put account details, balances and export dates above the header; a header further
# down than this is not one we would recognise safely.
_HEADER_SEARCH_LINES = 30


@dataclass(frozen=True, slots=True)
class Header:
    line: int  # 1-based physical line of the header row
    body_start: int  # byte offset in the file of the line after the header
    delimiter: str
    columns: ColumnMap
    width: int  # fields a row must have: up to the last named header cell


def find_header(source: TextSource) -> Header:
    hint = None
    table_lines: dict[str, list[int]] = {}  # delimiter -> lines it splits into several fields
    first_lines = islice(source.lines_at(), _HEADER_SEARCH_LINES)
    for line_no, (line, offset) in enumerate(first_lines, start=1):
        content = line.rstrip("\r\n")
        if content.lower().startswith("sep=") and len(content) == 5:
            hint = content[4]  # Excel's own "sep=;" first line
            continue
        if not content.strip():
            continue
        columns, delimiter = _best_header_reading(line, hint)
        if columns.recognised >= 2 and columns.has_date_or_amount():
            return _header(line_no, offset, delimiter, columns)
        if len(columns.names) > 1:
            table_lines.setdefault(delimiter, []).append(line_no)
    # One comma in a letter does not make a table; two delimited lines do.
    tables = [lines for lines in table_lines.values() if len(lines) >= 2]
    if not tables:
        raise UnsupportedFormat("This file is text, but not a CSV statement with a header row.")
    first_line = min(lines[0] for lines in tables)
    raise InvalidStatement([LineError(first_line, None, _missing_header_reason())])


def _best_header_reading(line: str, hint: str | None) -> tuple[ColumnMap, str]:
    best: tuple[ColumnMap, str] | None = None
    for delimiter in (hint,) if hint else DELIMITERS:
        cells = next(csv.reader([line], delimiter=delimiter), [])
        columns = map_columns(cells)
        score = (columns.recognised, len(columns.names))
        if best is None or score > (best[0].recognised, len(best[0].names)):
            best = (columns, delimiter)
    assert best is not None
    return best


def _header(line_no: int, offset: int, delimiter: str, columns: ColumnMap) -> Header:
    missing = columns.missing()
    if missing:
        raise InvalidStatement(
            [
                LineError(line_no, None, f"missing {role} column (expected {EXAMPLES[role]})")
                for role in missing
            ]
        )
    named = [index for index, name in enumerate(columns.names) if name]
    return Header(line_no, offset, delimiter, columns, named[-1] + 1)


def _missing_header_reason() -> str:
    return (
        "no header row found: expected a row naming the date, description and amount "
        f"columns (such as {EXAMPLES['date']}; {EXAMPLES['description']}; {EXAMPLES['amount']})"
    )


def mixed_delimiter_hint(fields: list[str], header: Header) -> str:
    raw = header.delimiter.join(fields)
    for other in DELIMITERS:
        if other == header.delimiter or other not in raw:
            continue
        if len(next(csv.reader([raw], delimiter=other), [])) >= header.width:
            return (
                f"; this line is separated by {_DELIMITER_NAMES[other]} but the header uses "
                f"{_DELIMITER_NAMES[header.delimiter]}"
            )
    return ""
