"""Every file in the corpus parses to exactly the rows (or the error) written next to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.writes.statements import (
    InvalidStatement,
    ParsedStatement,
    StatementError,
    StatementTooLarge,
    parse_statement,
)

CORPUS = Path(__file__).parent / "corpus"
GOOD = sorted(
    path for path in (CORPUS / "good").iterdir() if not path.name.endswith(".expected.json")
)
BAD_CASES: list[dict[str, Any]] = json.loads((CORPUS / "bad" / "bad_cases.json").read_text())
MAX_BYTES = 1_000_000
MAX_ROWS = 1_000


def parse_file(path: Path, **options: Any) -> ParsedStatement:
    settings: dict[str, Any] = {
        "default_currency": "USD",
        "max_bytes": MAX_BYTES,
        "max_rows": MAX_ROWS,
        **options,
    }
    return parse_statement(path.read_bytes(), path.name, **settings)


def expected_for(path: Path) -> dict[str, Any]:
    name = path.name.rsplit(".", 1)[0] + ".expected.json"
    expected: dict[str, Any] = json.loads((path.parent / name).read_text(encoding="utf-8"))
    return expected


def as_json_rows(statement: ParsedStatement) -> list[dict[str, Any]]:
    return [
        {
            "line": row.line,
            "date": row.date.isoformat(),
            "amount_minor": row.amount_minor,
            "currency": row.currency,
            "description": row.description,
            "category": row.category,
        }
        for row in statement.rows
    ]


def test_corpus_is_large_enough() -> None:
    assert len(GOOD) >= 15
    assert len(BAD_CASES) >= 20


@pytest.mark.parametrize("path", GOOD, ids=[path.name for path in GOOD])
def test_good_file_parses_exactly(path: Path) -> None:
    expected = expected_for(path)

    statement = parse_file(path, **expected["options"])

    assert as_json_rows(statement) == expected["rows"]
    assert {
        "format": statement.format,
        "encoding": statement.encoding,
        "delimiter": statement.delimiter,
        "date_order": statement.date_order,
    } == expected["statement"]


@pytest.mark.parametrize("path", GOOD, ids=[path.name for path in GOOD])
def test_good_file_import_keys_are_unique_hex(path: Path) -> None:
    statement = parse_file(path, **expected_for(path)["options"])

    keys = [row.import_key for row in statement.rows]
    assert len(set(keys)) == len(keys)
    assert all(len(key) <= 64 and int(key, 16) >= 0 for key in keys)


@pytest.mark.parametrize("case", BAD_CASES, ids=[case["file"] for case in BAD_CASES])
def test_bad_file_is_rejected_with_its_line(case: dict[str, Any]) -> None:
    path = CORPUS / "bad" / case["file"]

    with pytest.raises(StatementError) as caught:
        parse_file(path, **case["options"])

    error = caught.value
    assert error.status == case["status"]
    assert case["message_contains"] in error.message
    if case["line"] is None:
        assert error.errors == []
        return
    assert isinstance(error, InvalidStatement)
    assert (error.errors[0].line, error.errors[0].column) == (case["line"], case["column"])
    if "lines" in case:
        assert [line_error.line for line_error in error.errors] == case["lines"]
    place = "options" if case["line"] == 0 else str(case["line"])
    assert place in error.message


def test_file_over_max_bytes_is_413_before_any_parsing() -> None:
    data = b"Date,Description,Amount\n" + b"2024-01-01,x,1.00\n" * 100

    with pytest.raises(StatementTooLarge) as caught:
        parse_statement(data, "big.csv", default_currency="USD", max_bytes=len(data) - 1,
                        max_rows=MAX_ROWS)  # fmt: skip

    assert caught.value.status == 413
    assert f"{len(data):,} bytes" in caught.value.message


def test_file_of_exactly_max_bytes_is_accepted() -> None:
    data = b"Date,Description,Amount\n2024-01-01,x,1.00\n"

    statement = parse_statement(
        data, "ok.csv", default_currency="USD", max_bytes=len(data), max_rows=1
    )

    assert len(statement.rows) == 1


def test_csv_with_more_rows_than_max_rows_is_413_naming_the_first_extra_line() -> None:
    path = CORPUS / "good" / "us_checking_mdy.csv"

    with pytest.raises(StatementTooLarge) as caught:
        parse_file(path, max_rows=3)

    assert caught.value.status == 413
    assert "more than 3 transactions" in caught.value.message
    assert caught.value.errors[0].line == 5


def test_ofx_with_more_transactions_than_max_rows_is_413() -> None:
    path = CORPUS / "good" / "ofx1_sgml_checking.ofx"

    with pytest.raises(StatementTooLarge) as caught:
        parse_file(path, max_rows=2)

    assert caught.value.status == 413


def test_max_rows_counts_transactions_not_blank_lines() -> None:
    data = b"Date,Description,Amount\n\n2024-01-01,x,1.00\n\n\n2024-01-02,y,2.00\n\n"

    statement = parse_statement(data, "gaps.csv", default_currency="USD", max_bytes=MAX_BYTES,
                                max_rows=2)  # fmt: skip

    assert [row.line for row in statement.rows] == [3, 6]
