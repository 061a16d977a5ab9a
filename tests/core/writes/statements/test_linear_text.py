"""Hostile statements: every pattern the parsers apply to a file is linear in its length.

Each input is at least 10,000 characters of what made a pattern backtrack (runs of brackets,
of "mon", of spaces, unclosed CDATA sections). The old code took time quadratic in the run
length, minutes to hours for a file under the upload limit; nothing here is timed, a pattern
that is not linear simply never lets the test finish. Each test also checks the answer.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from core.writes.statements import InvalidStatement, ParsedStatement, parse_statement
from core.writes.statements.columns import normalise_header
from core.writes.statements.dates import is_day_month_date

N = 10_000
CORPUS = Path(__file__).resolve().parent / "corpus" / "good"


def parse(data: bytes, name: str = "statement.csv", **options: Any) -> ParsedStatement:
    return parse_statement(
        data, name, default_currency="USD", max_bytes=4_000_000, max_rows=10_000, **options
    )


def problems(exc: pytest.ExceptionInfo[InvalidStatement]) -> list[tuple[int, str]]:
    return [(error.line, error.reason) for error in exc.value.errors]


# --- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("(" * N, ""),
        ("[" * N, ""),
        ("(a" * N, " ".join(["a"] * N)),
        ("([" * N + ")]", ""),
        ("Amount (USD)", "amount"),
        ("Betrag [EUR]", "betrag"),
    ],
)
def test_header_cells_with_unclosed_brackets(cell: str, expected: str) -> None:
    assert normalise_header(cell) == expected


def test_a_preamble_line_of_brackets_before_the_header() -> None:
    # Every line before the header is read as a candidate header, cell by cell.
    # (The csv module refuses fields over 131,072 characters: stay under that.)
    data = b"(" * (13 * N) + b"\nDate,Description,Amount\n2024-01-02,Coffee,-3.50\n"
    statement = parse(data)
    assert [(r.date, r.amount_minor, r.description) for r in statement.rows] == [
        (datetime.date(2024, 1, 2), -350, "Coffee")
    ]


@pytest.mark.parametrize("text", ["mon" * N, "Monday " * N, "15/03/2024 " + " " * N + "x"])
def test_long_date_cells_are_no_day_month_dates(text: str) -> None:
    assert not is_day_month_date(text)


def test_a_long_date_cell_is_reported_on_its_line() -> None:
    # A day-first file (25/03) with one date cell of 30,000 characters: the error message looks
    # at whether the bad cell is a day/month date, which ran the weekday pattern over all of it.
    data = (
        "Date,Description,Amount\n25/03/2024,Coffee,-3.50\n" + "mon" * N + ",Tea,-2.00\n"
    ).encode()
    with pytest.raises(InvalidStatement) as exc:
        parse(data)
    ((line, reason),) = problems(exc)
    assert line == 3
    assert "as a date" in reason


# --- OFX --------------------------------------------------------------------------------------

OFX_V1 = (CORPUS / "ofx1_sgml_checking.ofx").read_bytes()


def test_a_broken_ofx_header_with_a_long_run_of_spaces() -> None:
    data = b"OFXHEADER:100\nDATA:" + b" " * (20 * N) + b"\n<OFX></OFX>\n"
    with pytest.raises(InvalidStatement) as exc:
        parse(data, "statement.ofx")
    ((line, reason),) = problems(exc)
    assert line == 1
    assert "OFX header is invalid" in reason


def test_an_ofx_header_padded_with_blank_lines_still_parses() -> None:
    head, found, rest = OFX_V1.partition(b"NEWFILEUID:NONE\r\n")
    assert found
    padded = head + found + b"   \r\n" * N + rest
    assert [r.amount_minor for r in parse(padded, "a.ofx").rows] == [
        r.amount_minor for r in parse(OFX_V1, "a.ofx").rows
    ]


def test_unclosed_cdata_sections() -> None:
    body = b"<OFX>" + b"<NAME><![CDATA[" * N + b"</OFX>\n"
    head = OFX_V1.partition(b"<OFX>")[0]
    with pytest.raises(InvalidStatement) as exc:
        parse(head + body, "statement.ofx")
    ((_, reason),) = problems(exc)
    assert "CDATA" in reason


def test_a_closed_cdata_section_is_read() -> None:
    data = OFX_V1.replace(b"<NAME>GROCERY OUTLET", b"<NAME><![CDATA[GROCERY & OUTLET]]>", 1)
    rows = parse(data, "statement.ofx").rows
    assert rows[0].description.startswith("GROCERY & OUTLET")
