"""`open_statement`: file-wide checks up front, rows one at a time, row errors at the end."""

from __future__ import annotations

import io
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import IO, Any

import pytest

from core.writes.statements import (
    InvalidStatement,
    ParsedRow,
    StatementData,
    StatementError,
    StatementStream,
    StatementTooLarge,
    UnsupportedFormat,
    open_statement,
    parse_statement,
)
from core.writes.statements import source as source_module
from core.writes.statements.errors import MAX_LISTED_ERRORS
from core.writes.statements.source import CHUNK_BYTES

CORPUS = Path(__file__).parent / "corpus"
GOOD = sorted(p for p in (CORPUS / "good").iterdir() if not p.name.endswith(".expected.json"))
BAD_CASES: list[dict[str, Any]] = json.loads((CORPUS / "bad" / "bad_cases.json").read_text())
LIMITS: dict[str, Any] = {"max_bytes": 10_000_000, "max_rows": 100_000}


def options_for(path: Path) -> dict[str, Any]:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text("utf-8"))
    return {"default_currency": "USD", **LIMITS, **expected["options"]}


def open_bytes(data: StatementData, name: str = "s.csv", **options: Any) -> StatementStream:
    return open_statement(data, name, **{"default_currency": "USD", **LIMITS, **options})


def statement_csv(rows: int, bad_lines: frozenset[int] = frozenset()) -> bytes:
    """`rows` distinct transactions after a header (line 1); `bad_lines` have a bad amount."""
    lines = ["Date,Description,Amount"]
    for n in range(rows):
        line = n + 2
        amount = "12.3.4" if line in bad_lines else f"-{n % 900 + 1}.{n % 100:02d}"
        lines.append(f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d},Shop {n:06d},{amount}")
    return ("\n".join(lines) + "\n").encode()


def spooled(data: bytes) -> IO[bytes]:
    """The file an upload gives: Starlette's spooled file, on disk past 1 MB, left at its end."""
    file = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - closed by GC
    file.write(data)
    return file


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


def test_a_character_split_across_chunks_is_still_utf8() -> None:
    # The file is read CHUNK_BYTES at a time; put a 3-byte "€" across the first boundary.
    head, line, start = b"Date,Description,Amount\n", b"2024-01-01,coffee,-1.00\n", b"2024-01-02,"
    filler = line * ((CHUNK_BYTES - len(head) - 400) // len(line))
    pad = CHUNK_BYTES - len(head) - len(filler) - len(start) - 1
    data = head + filler + start + b"x" * pad + "€uro,-2.00\n".encode()
    assert data.index("€".encode()) == CHUNK_BYTES - 1

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


# --- A file object: the upload's spooled file, read in chunks -------------------------------------


@pytest.mark.parametrize("path", GOOD, ids=[path.name for path in GOOD])
def test_a_file_object_yields_what_its_bytes_yield(path: Path) -> None:
    data, options = path.read_bytes(), options_for(path)
    from_bytes = open_statement(data, path.name, **options)

    from_file = open_statement(spooled(data), path.name, **options)

    assert list(from_file) == list(from_bytes)
    assert (from_file.format, from_file.encoding, from_file.delimiter, from_file.date_order) == (
        from_bytes.format,
        from_bytes.encoding,
        from_bytes.delimiter,
        from_bytes.date_order,
    )


@pytest.mark.parametrize("path", GOOD, ids=[path.name for path in GOOD])
def test_rows_do_not_depend_on_where_chunks_end(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, options = path.read_bytes(), options_for(path)
    expected = list(open_statement(data, path.name, **options))
    # 7 bytes: every line, BOM, multi-byte character and CRLF straddles some boundary.
    monkeypatch.setattr(source_module, "CHUNK_BYTES", 7)

    stream = open_statement(spooled(data), path.name, **options)

    assert list(stream) == expected


@pytest.mark.parametrize("case", BAD_CASES, ids=[case["file"] for case in BAD_CASES])
def test_a_bad_file_object_fails_as_its_bytes_fail(case: dict[str, Any]) -> None:
    path = CORPUS / "bad" / case["file"]
    options = {"default_currency": "USD", **LIMITS, **case["options"]}
    with pytest.raises(StatementError) as from_bytes:
        list(open_statement(path.read_bytes(), path.name, **options))

    with pytest.raises(StatementError) as from_file:
        list(open_statement(spooled(path.read_bytes()), path.name, **options))

    assert type(from_file.value) is type(from_bytes.value)
    assert (from_file.value.message, from_file.value.errors) == (
        from_bytes.value.message,
        from_bytes.value.errors,
    )


def test_a_file_over_the_limit_is_refused_before_any_of_it_is_read() -> None:
    class Unread(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            raise AssertionError("read before the size was checked")

    data = statement_csv(50)

    with pytest.raises(StatementTooLarge) as caught:
        open_bytes(Unread(data), max_bytes=len(data) - 1)

    assert f"{len(data):,} bytes" in caught.value.message


def test_a_file_that_grows_past_the_limit_is_stopped_while_reading() -> None:
    data = statement_csv(50)
    file = io.BytesIO(data)
    stream = open_bytes(file, max_bytes=len(data) + 10)
    # Its size was checked at open; iterating reads it again, and finds more than it may.
    file.seek(0, io.SEEK_END)
    file.write(b"2024-01-01,late,-1.00\n")

    with pytest.raises(StatementTooLarge) as caught:
        list(stream)

    assert f"limit of {len(data) + 10:,} bytes" in caught.value.message


def test_a_file_is_read_from_its_start_wherever_it_was_left() -> None:
    data = statement_csv(10)
    file = io.BytesIO(data)
    file.seek(len(data) // 2)

    assert list(open_bytes(file)) == list(open_bytes(data))


def test_a_file_that_cannot_seek_is_a_programming_error() -> None:
    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

    with pytest.raises(ValueError, match="seekable"):
        open_bytes(Pipe(statement_csv(3)))


def test_reading_a_file_grows_less_than_the_file() -> None:
    def peak(rows: int) -> tuple[int, int]:
        data = statement_csv(rows)
        file = spooled(data)
        count = 0
        tracemalloc.start()
        try:
            for _ in open_bytes(file):
                count += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == rows
        return peak, len(data)

    small, small_bytes = peak(10_000)
    large, large_bytes = peak(20_000)

    # Holding the file would grow by over a byte per file byte; what grows instead is the
    # import keys' 16-byte fingerprint slot per row, for 31-byte lines: about half a byte.
    growth = (large - small) / (large_bytes - small_bytes)
    assert growth < 0.75, (growth, small, large)
