"""Statement dates: the formats banks write, and the day-first/month-first decision.

The day/month order is decided for the whole file, never per row: `03/04/2024` alone is
unknowable, but a file that also contains `25/04/2024` is day-first throughout.
"""

from __future__ import annotations

import datetime
import re

from core.writes.statements.digits import require_ascii_digits
from core.writes.statements.rows import DateOrder

DATE_ORDERS: tuple[DateOrder, ...] = ("dmy", "mdy", "ymd")
_ORDER_NAMES = {"dmy": "day-first", "mdy": "month-first", "ymd": "year-first"}

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

_NUMERIC = re.compile(r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DAY_NAME_YEAR = re.compile(r"(\d{1,2})\.?[ /.-]*([A-Za-z]{3,9})\.?,?[ /.-]*(\d{4}|\d{2})")
_NAME_DAY_YEAR = re.compile(
    r"([A-Za-z]{3,9})\.?[ /.-]*(\d{1,2})(?:st|nd|rd|th)?,?[ /.-]*(\d{4}|\d{2})"
)
_YEAR_NAME_DAY = re.compile(r"(\d{4})[ /.-]*([A-Za-z]{3,9})\.?[ /.-]*(\d{1,2})")
# Exports often carry a time, or a weekday, that says nothing about the calendar date.
_TIME_SUFFIX = re.compile(
    r"(?:[T ]|,\s*)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?"
    r"(?:\s*(?:Z|[+-]\d{2}:?\d{2}|[A-Z]{2,5}))?$"
)
_WEEKDAY_PREFIX = re.compile(r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)

_MIN_YEAR, _MAX_YEAR = 1900, 2100
_MAX_TEXT_CHARS = 64  # the longest real date with weekday and time is far shorter
# Two-digit years: 00-69 are 2000-2069, 70-99 are 1970-1999 (the POSIX strptime pivot).
_PIVOT = 70


class AmbiguousDate(ValueError):
    """A numeric date whose day and month could be either way round, with no order given."""


def parse_date(text: str, date_order: DateOrder | None = None) -> datetime.date:
    """Read one date. ISO `YYYY-MM-DD` and month-name forms need no order; `05/03/2024`
    needs `date_order` unless one field is over 12 (then only one reading exists).

    Raises AmbiguousDate or ValueError with a reason fit to show the user.
    """
    if len(text) > _MAX_TEXT_CHARS:
        raise ValueError(f"could not read '{text.strip()[:20]}...' as a date")
    require_ascii_digits(text, "date")
    cleaned = _strip_noise(text)
    match = _NUMERIC.fullmatch(cleaned)
    if match:
        first, separator, second, third = match.groups()
        del separator
        year, month, day = _numeric_fields(first, second, third, date_order, text)
    else:
        year, month, day = _named_or_compact_fields(cleaned, text)
    return _build(year, month, day, text)


def describe_order(order: str) -> str:
    return _ORDER_NAMES.get(order, order)


class DateOrderDetector:
    """Collects evidence about day/month order from every date of a file.

    `observe` is cheap and keeps no per-row state beyond a few counters, so a 50,000-row file
    can be scanned once for evidence and parsed afterwards with the decided order.
    """

    __slots__ = ("ambiguous_line", "ambiguous_text", "day_first", "dotted", "month_first", "seen")

    def __init__(self) -> None:
        self.day_first = 0
        self.month_first = 0
        self.dotted = 0
        self.seen = 0
        self.ambiguous_line = 0
        self.ambiguous_text = ""

    def observe(self, text: str, line: int) -> None:
        if len(text) > _MAX_TEXT_CHARS:
            return
        match = _NUMERIC.fullmatch(_strip_noise(text))
        if match is None:
            return
        first, separator, second, _ = match.groups()
        if len(first) == 4:
            return
        self.seen += 1
        a, b = int(first), int(second)
        if a > 12 >= b:
            self.day_first += 1
        elif b > 12 >= a:
            self.month_first += 1
        elif a != b and a <= 12 and b <= 12:
            self.dotted += separator == "."
            if not self.ambiguous_line:
                self.ambiguous_line, self.ambiguous_text = line, text.strip()

    def resolve(self) -> DateOrder | None:
        """The order to use, or None when no date in the file needs one.

        Raises AmbiguousDate when every day/month pair could be read both ways.
        """
        if self.day_first or self.month_first:
            # Lines that disagree with the majority are reported as bad dates later.
            return "dmy" if self.day_first >= self.month_first else "mdy"
        if not self.ambiguous_line:
            return None
        if self.dotted == self.seen:
            # 05.03.2024 is the day-first convention wherever dots separate dates.
            return "dmy"
        raise AmbiguousDate(
            f"dates such as '{self.ambiguous_text}' could be day-first or month-first; "
            "choose the date order (date_order 'dmy' or 'mdy') and upload again"
        )


def _strip_noise(text: str) -> str:
    cleaned = text.strip()
    cleaned = _TIME_SUFFIX.sub("", cleaned)
    return _WEEKDAY_PREFIX.sub("", cleaned, count=1).strip()


def _numeric_fields(
    first: str, second: str, third: str, order: DateOrder | None, text: str
) -> tuple[int, int, int]:
    a, b, c = int(first), int(second), int(third)
    if len(first) == 4 or (order == "ymd" and len(first) == 2 and len(third) <= 2):
        if len(third) > 2:
            raise ValueError(f"could not read '{text.strip()}' as a date")
        return _full_year(first, a), b, c
    if len(third) not in (2, 4) or order == "ymd":
        raise ValueError(f"could not read '{text.strip()}' as a date")
    year = _full_year(third, c)
    if order is None:
        if a > 12 >= b:
            order = "dmy"
        elif b > 12 >= a or a == b:
            order = "mdy"
        else:
            raise AmbiguousDate(
                f"'{text.strip()}' could be day-first or month-first; choose the date order"
            )
    return (year, b, a) if order == "dmy" else (year, a, b)


def _named_or_compact_fields(cleaned: str, text: str) -> tuple[int, int, int]:
    if match := _COMPACT.fullmatch(cleaned):
        return int(match[1]), int(match[2]), int(match[3])
    if match := _DAY_NAME_YEAR.fullmatch(cleaned):
        return _full_year(match[3], int(match[3])), _month(match[2], text), int(match[1])
    if match := _NAME_DAY_YEAR.fullmatch(cleaned):
        return _full_year(match[3], int(match[3])), _month(match[1], text), int(match[2])
    if match := _YEAR_NAME_DAY.fullmatch(cleaned):
        return int(match[1]), _month(match[2], text), int(match[3])
    raise ValueError(f"could not read '{text.strip()}' as a date")


def _month(name: str, text: str) -> int:
    try:
        return _MONTHS[name.lower()]
    except KeyError:
        raise ValueError(f"could not read '{text.strip()}' as a date") from None


def _full_year(digits: str, value: int) -> int:
    if len(digits) == 4:
        return value
    if len(digits) == 2:
        return value + (2000 if value < _PIVOT else 1900)
    return -1  # one- or three-digit years are not years; _build rejects them


def _build(year: int, month: int, day: int, text: str) -> datetime.date:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValueError(f"could not read '{text.strip()}' as a date")
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValueError(f"could not read '{text.strip()}' as a date") from None


def is_day_month_date(text: str) -> bool:
    """True for numeric dates whose reading depends on the file's day/month order."""
    if len(text) > _MAX_TEXT_CHARS:  # bounds the patterns' work, as in parse_date
        return False
    match = _NUMERIC.fullmatch(_strip_noise(text))
    return match is not None and len(match.group(1)) != 4
