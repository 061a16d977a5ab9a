"""`open_statement`: file-wide checks up front, rows one at a time, row errors at the end."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from core.statements import (
    InvalidStatement,
    ParsedRow,
    StatementError,
    StatementStream,
    StatementTooLarge,
    UnsupportedFormat,
    open_statement,
    parse_statement,
)
from core.statements.errors import MAX_LISTED_ERRORS

CORPUS = Path(__file__).parent / "corpus"
GOOD = sorted(p for p in (CORPUS / "good").iterdir() if not p.name.endswith(".expected.json"))
BAD_CASES: list[dict[str, Any]] = json.loads((CORPUS / "bad" / "bad_cases.json").read_text())
LIMITS: dict[str, Any] = {"max_bytes": 10_000_000, "max_rows": 100_000}


def options_for(path: Path) -> dict[str, Any]:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text("utf-8"))
    return {"default_currency": "USD", **LIMITS, **expected["options"]}


def open_bytes(data: bytes, name: str = "s.csv", **options: Any) -> StatementStream:
    return open_statement(data, name, **{"default_currency": "USD", **LIMITS, **options})


def statement_csv(rows: int, bad_lines: frozenset[int] = frozenset()) -> bytes:
    """`rows` distinct transactions after a header (line 1); `bad_lines` have a bad amount."""
    lines = ["Date,Description,Amount"]
    for n in range(rows):
        line = n + 2
        amount = "12.3.4" if line in bad_lines else f"-{n % 900 + 1}.{n % 100:02d}"
        lines.append(f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d},Shop {n:06d},{amount}")
    return ("\n".join(lines) + "\n").encode()


def read_until_error(stream: StatementStream) -> tuple[list[ParsedRow], InvalidStatement]:
    rows: list[ParsedRow] = []
    with pytest.raises(InvalidStatement) as caught:
        rows.extend(stream)  # extend keeps what it received before the error
    return rows, caught.value


# --- The same rows as parse_statement ------------------------------------------------------------


@pytest.mark.parametrize("path", GOOD, ids=[path.name for path in GOOD])
def test_stream_yields_exactly_what_parse_statement_returns(path: Path) -> None:
    data, options = path.read_bytes(), options_for(path)

    stream = open_statement(data, path.name, **options)
    parsed = parse_statement(data, path.name, **options)

    rows = list(stream)
    assert rows == parsed.rows
    assert stream.row_count == len(rows)
    assert (stream.format, stream.encoding, stream.delimiter, stream.date_order) == (
        parsed.format,
        parsed.encoding,
        parsed.delimiter,
        parsed.date_order,
    )
    # Each iteration reads the file again, with the same keys.
    assert list(stream) == rows


@pytest.mark.parametrize("case", BAD_CASES, ids=[case["file"] for case in BAD_CASES])
def test_a_bad_file_fails_the_stream_as_it_fails_parse_statement(case: dict[str, Any]) -> None:
    path = CORPUS / "bad" / case["file"]
    options = {"default_currency": "USD", **LIMITS, **case["options"]}
    with pytest.raises(StatementError) as listed:
        parse_statement(path.read_bytes(), path.name, **options)

    with pytest.raises(StatementError) as streamed:
        list(open_statement(path.read_bytes(), path.name, **options))

    assert type(streamed.value) is type(listed.value)
    assert streamed.value.message == listed.value.message
    assert streamed.value.errors == listed.value.errors


# --- Row errors come at the end ------------------------------------------------------------------


def test_a_bad_row_late_in_the_file_is_raised_when_the_iteration_ends() -> None:
    data = statement_csv(1_000, bad_lines=frozenset({700, 1_001}))

    stream = open_bytes(data)  # the file as a whole is fine
    rows, error = read_until_error(stream)

    assert stream.row_count == 1_000
    # Every row before the first bad one was handed out; none after it.
    assert [row.line for row in rows] == list(range(2, 700))
    assert [(e.line, e.column) for e in error.errors] == [(700, "Amount"), (1_001, "Amount")]
    assert "2 problems" in error.message
    with pytest.raises(InvalidStatement) as listed:
        parse_statement(data, "s.csv", default_currency="USD", **LIMITS)
    assert (listed.value.message, listed.value.errors) == (error.message, error.errors)


def test_every_bad_row_is_counted_and_the_first_fifty_listed() -> None:
    bad = frozenset(range(10, 1_000, 7))
    data = statement_csv(1_000, bad_lines=bad)

    _, error = read_until_error(open_bytes(data))

    assert error.total == len(bad)
    assert [e.line for e in error.errors] == sorted(bad)[:MAX_LISTED_ERRORS]


def test_an_ambiguous_date_order_is_reported_with_the_rows_errors() -> None:
    data = b"Date,Description,Amount\n03/04/2024,a,1.00\n05/06/2024,b,x\n"

    rows, error = read_until_error(open_bytes(data))

    assert rows == []
    assert [(e.line, e.column) for e in error.errors] == [(2, "Date"), (3, "Amount")]


def test_ofx_entry_errors_also_come_at_the_end() -> None:
    path = CORPUS / "bad" / "ofx_bad_entries.ofx"

    stream = open_bytes(path.read_bytes(), path.name)
    _, error = read_until_error(stream)

    assert stream.format == "ofx"
    assert error.errors
    assert "transaction" in error.message


# --- File-wide problems come up front ------------------------------------------------------------


def test_too_many_rows_is_raised_by_open_before_any_row_is_read() -> None:
    data = statement_csv(50)

    with pytest.raises(StatementTooLarge) as caught:
        open_bytes(data, max_rows=49)

    assert caught.value.errors[0].line == 51


def test_too_many_bytes_is_raised_by_open() -> None:
    data = statement_csv(50)

    with pytest.raises(StatementTooLarge):
        open_bytes(data, max_bytes=len(data) - 1)


def test_a_bad_ofx_row_count_is_raised_by_open() -> None:
    path = CORPUS / "good" / "ofx1_sgml_checking.ofx"

    with pytest.raises(StatementTooLarge):
        open_bytes(path.read_bytes(), path.name, max_rows=1)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xef\xbb\xbf \r\n\t\n", InvalidStatement),  # nothing but a BOM and blanks
        (b"%PDF-1.7 ...", UnsupportedFormat),
        (b"<html><body>statement</body></html>", UnsupportedFormat),
        (b"Date,Description,Amount\n", InvalidStatement),  # no rows
        (b"Date,Description\n2024-01-01,x\n", InvalidStatement),  # no amount column
        (b"Account,Owner\n12345,Jo\n67890,Al\n", InvalidStatement),  # a table, no header
    ],
)
def test_file_wide_problems_are_raised_by_open(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        open_bytes(data)


# --- Reading without holding the text -----------------------------------------------------------


def test_a_character_split_across_decode_chunks_is_still_utf8() -> None:
    # The UTF-8 check reads 256 KiB at a time; put a 3-byte "€" across that boundary.
    head = b"Date,Description,Amount\n"
    filler = b"2024-01-01,coffee,-1.00\n" * 11_000
    pad = 262_144 - len(head) - len(filler) - len(b"2024-01-02,") - 1
    data = head + filler + b"2024-01-02," + b"x" * pad + "€uro,-2.00\n".encode()

    stream = open_bytes(data, max_rows=20_000)
    rows = list(stream)

    assert stream.encoding == "utf-8"
    assert rows[-1].description.endswith("€uro")


def test_iterating_a_large_file_holds_far_less_than_the_file() -> None:
    data = statement_csv(20_000)
    stream = open_bytes(data)
    count = 0

    tracemalloc.start()
    try:
        for _ in stream:
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 20_000
    # No list of rows (some 300 bytes each) and no decoded copy of the text: what remains
    # per row is a 16-byte fingerprint slot, for 31-byte lines.
    assert peak < len(data), (peak, len(data))
