"""Date formats, and the day/month order decided from the whole file."""

from __future__ import annotations

import datetime

import pytest

from core.writes.statements import AmbiguousDate, parse_date
from core.writes.statements.dates import DateOrderDetector
from core.writes.statements.rows import DateOrder

MARCH_5 = datetime.date(2024, 3, 5)


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("2024-03-05", None),
        ("2024/3/5", None),
        ("2024.03.05", None),
        ("20240305", None),
        ("2024-03-05T14:23:00Z", None),
        ("2024-03-05 14:23:00+01:00", None),
        ("05/03/2024", "dmy"),
        ("03/05/2024", "mdy"),
        ("5.3.2024", "dmy"),
        ("05-03-24", "dmy"),
        ("3/5/24", "mdy"),
        ("24/03/05", "ymd"),
        ("03/05/2024 2:30 PM", "mdy"),
        ("05-Mar-2024", None),
        ("5 Mar 2024", None),
        ("05 March 2024", None),
        ("5-Mar-24", None),
        ("Mar 5, 2024", None),
        ("March 5th 2024", None),
        ("Mar 5 2024", None),
        ("Tue, 05 Mar 2024", None),
        ("2024-Mar-05", None),
        ("2024-03-05", "dmy"),
        ("2024-03-05", "mdy"),
    ],
)
def test_parse_date_formats(text: str, order: DateOrder | None) -> None:
    assert parse_date(text, order) == MARCH_5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25/03/2024", datetime.date(2024, 3, 25)),
        ("03/25/2024", datetime.date(2024, 3, 25)),
        ("05/05/2024", datetime.date(2024, 5, 5)),
        ("25/12/69", datetime.date(2069, 12, 25)),
        ("25/12/70", datetime.date(1970, 12, 25)),
        ("Sept 30, 2024", datetime.date(2024, 9, 30)),
    ],
)
def test_dates_that_read_only_one_way_need_no_order(text: str, expected: datetime.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("31/31/2024", None),
        ("2024-02-30", None),
        ("2023-02-29", None),
        ("13/13/2024", "dmy"),
        ("25/03/2024", "mdy"),
        ("05/03/2024", "ymd"),
        ("abc", None),
        ("", None),
        ("2024-03", None),
        ("5/3/202", None),
        ("Foo 5, 2024", None),
        ("0024-03-05", None),
        ("2024-03-05-01", None),
    ],
)
def test_unreadable_dates(text: str, order: DateOrder | None) -> None:
    with pytest.raises(ValueError, match=r"could not read .* as a date"):
        parse_date(text, order)


def test_ambiguous_date_without_order_asks_for_one() -> None:
    with pytest.raises(AmbiguousDate, match="day-first or month-first"):
        parse_date("03/04/2024")


def test_leap_day_exists_in_leap_years() -> None:
    assert parse_date("2024-02-29") == datetime.date(2024, 2, 29)


def detector_for(*dates: str) -> DateOrderDetector:
    detector = DateOrderDetector()
    for line, text in enumerate(dates, start=2):
        detector.observe(text, line)
    return detector


@pytest.mark.parametrize(
    ("dates", "order"),
    [
        (("01/02/2024", "25/02/2024"), "dmy"),
        (("01/02/2024", "02/25/2024"), "mdy"),
        (("25/01/2024", "26/01/2024", "01/27/2024"), "dmy"),
        (("2024-01-02", "Mar 5, 2024"), None),
        (("05/05/2024", "06/06/2024"), None),
        (("01.02.2024", "03.04.2024"), "dmy"),
        (("01/02/2024 10:00", "13/02/2024 11:00"), "dmy"),
    ],
)
def test_detector_decides_from_the_whole_file(
    dates: tuple[str, ...], order: DateOrder | None
) -> None:
    assert detector_for(*dates).resolve() == order


def test_detector_reports_the_first_ambiguous_line() -> None:
    detector = detector_for("2024-01-01", "01/02/2024", "03/04/2024")

    with pytest.raises(AmbiguousDate, match="'01/02/2024'"):
        detector.resolve()
    assert detector.ambiguous_line == 3
