"""The parser's output: plain frozen records the upload endpoint turns into database rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

DateOrder = Literal["dmy", "mdy", "ymd"]
AmountSign = Literal["income_positive", "expense_positive"]

MAX_DESCRIPTION_CHARS = 500
MAX_CATEGORY_CHARS = 100


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int  # 1-based physical line in the file (OFX: the entry's ordinal)
    date: datetime.date
    amount_minor: int
    currency: str
    description: str  # trimmed, max 500 chars
    category: str | None  # max 100 chars
    import_key: str


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    format: str  # "csv" | "ofx" | "qfx"
    rows: list[ParsedRow]
    encoding: str
    delimiter: str | None
    date_order: str | None


def clean_text(value: str, limit: int) -> str:
    """Collapse internal whitespace (embedded newlines in quoted CSV fields) and truncate."""
    return " ".join(value.split())[:limit]
