"""The parser's output: plain frozen records the upload endpoint turns into database rows."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

DateOrder = Literal["dmy", "mdy", "ymd"]
AmountSign = Literal["income_positive", "expense_positive"]

MAX_DESCRIPTION_CHARS = 500
MAX_CATEGORY_CHARS = 100
MAX_ACCOUNT_CHARS = 100


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int  # 1-based physical line in the file (OFX: the entry's ordinal)
    date: datetime.date
    amount_minor: int
    currency: str
    description: str  # trimmed, max 500 chars
    category: str | None  # max 100 chars
    import_key: str
    # The account the file names for the row (OFX: its statement's ACCTID); None: it names none.
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Correction:
    """An OFX entry's CORRECTFITID: the transaction it replaces or deletes, by the import key an
    earlier upload stored it under (the import deletes it; one in the same file is left out)."""

    line: int  # the correcting entry's ordinal
    account: str | None  # as ParsedRow.account
    import_key: str


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    format: str  # "csv" | "ofx" | "qfx"
    rows: list[ParsedRow]
    encoding: str
    delimiter: str | None
    date_order: str | None


@dataclass(frozen=True, slots=True)
class StatementStream:
    """A statement whose file-wide checks passed, read one row at a time.

    Opening it did everything that needs the whole file: the format, the header, the date
    order, the row count and the limits. Iterating reads the rows (again, each time) and
    validates them as it goes; if any was bad, InvalidStatement listing every bad row is
    raised when the iteration ends. Rows received before that are therefore provisional: a
    consumer stores them in a transaction it rolls back on that error.
    """

    format: str  # "csv" | "ofx" | "qfx"
    encoding: str
    delimiter: str | None
    date_order: str | None
    row_count: int  # rows the iteration yields when the file is valid
    read_rows: Callable[[], Iterator[ParsedRow]] = field(repr=False, compare=False)
    # CSV rows with no amount that are balance lines ("Beginning balance as of ..."): skipped.
    balance_lines: tuple[int, ...] = ()
    corrections: tuple[Correction, ...] = ()

    def __iter__(self) -> Iterator[ParsedRow]:
        return self.read_rows()


def clean_text(value: str, limit: int) -> str:
    """Collapse internal whitespace (embedded newlines in quoted CSV fields) and truncate."""
    return " ".join(value.split())[:limit]
