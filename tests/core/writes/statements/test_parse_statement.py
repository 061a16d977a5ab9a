"""parse_statement: options, limits, error reporting and CSV shapes not covered by the corpus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.writes.statements import (
    InvalidStatement,
    ParsedStatement,
    StatementTooLarge,
    UnsupportedFormat,
    parse_statement,
)
from core.writes.statements.columns import map_columns, normalise_header
from core.writes.statements.errors import MAX_LISTED_ERRORS

REPO = Path(__file__).resolve().parents[4]


def parse(data: bytes, name: str = "statement.csv", **options: Any) -> ParsedStatement:
    settings: dict[str, Any] = {
        "default_currency": "USD",
        "max_bytes": 1_000_000,
        "max_rows": 10_000,
        **options,
    }
    return parse_statement(data, name, **settings)


def test_error_types_carry_their_http_status() -> None:
    assert StatementTooLarge("x").status == 413
    assert UnsupportedFormat("x").status == 415
    assert InvalidStatement([]).status == 422


def test_empty_form_fields_count_as_not_given() -> None:
    statement = parse(b"Date,Description,Amount\n2024-01-02,x,1.00\n", currency="", date_order=" ",
                      amount_sign="")  # fmt: skip

    assert statement.rows[0].currency == "USD"
    assert statement.rows[0].amount_minor == 100


def test_currency_option_is_case_insensitive_and_beats_the_default() -> None:
    statement = parse(b"Date,Description,Amount\n2024-01-02,x,1.00\n", currency=" eur ")

    assert statement.rows[0].currency == "EUR"


def test_a_bad_amount_sign_option_is_a_422_on_the_options() -> None:
    with pytest.raises(InvalidStatement) as caught:
        parse(b"Date,Description,Amount\n2024-01-02,x,1.00\n", amount_sign="negative")

    assert caught.value.errors[0].column == "amount_sign"


@pytest.mark.parametrize(
    "settings",
    [
        {"default_currency": "dollars"},
        {"max_bytes": 0},
        {"max_rows": -1},
    ],
)
def test_caller_mistakes_are_value_errors(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"currency|must be positive"):
        parse(b"Date,Description,Amount\n2024-01-02,x,1.00\n", **settings)


def test_latin1_is_the_fallback_for_text_that_is_not_utf8() -> None:
    data = "Date,Description,Amount\n2024-01-02,Café,-3.00\n".encode("latin-1")

    statement = parse(data)

    assert statement.encoding == "latin-1"
    assert statement.rows[0].description == "Café"


def test_all_bad_lines_are_counted_but_only_the_first_fifty_listed() -> None:
    data = b"Date,Description,Amount\n" + b"2024-01-02,x,oops\n" * 120

    with pytest.raises(InvalidStatement) as caught:
        parse(data)

    error = caught.value
    assert error.total == 120
    assert len(error.errors) == MAX_LISTED_ERRORS
    assert [e.line for e in error.errors[:3]] == [2, 3, 4]
    assert "120 problems" in error.message
    assert "and 117 more" in error.message


def test_descriptions_are_trimmed_collapsed_and_capped() -> None:
    long_text = "word " * 200
    data = f'Date,Description,Category,Amount\n2024-01-02,"  a\n b  ",{"c" * 150},1\n'
    data += f"2024-01-03,{long_text},  ,2\n"

    rows = parse(data.encode()).rows

    assert rows[0].description == "a b"
    assert rows[0].category == "c" * 100
    assert len(rows[1].description) == 500
    assert rows[1].category is None


def test_trailing_empty_fields_are_tolerated_but_extra_values_are_not() -> None:
    ok = parse(b"Date,Description,Amount\n2024-01-02,x,1.00,,\n")
    assert len(ok.rows) == 1

    with pytest.raises(InvalidStatement, match="expected 3 fields but found 4"):
        parse(b"Date,Description,Amount\n2024-01-02,x,1.00,oops\n")


def test_an_unterminated_quote_is_reported_on_its_line() -> None:
    with pytest.raises(InvalidStatement) as caught:
        parse(b'Date,Description,Amount\n2024-01-02,x,1.00\n2024-01-03,"broken,2.00\n')

    assert caught.value.errors[0].line == 3


def test_classic_mac_line_endings() -> None:
    statement = parse(b"Date,Description,Amount\r2024-01-02,x,1.00\r2024-01-03,y,2.00\r")

    assert [row.line for row in statement.rows] == [2, 3]


def test_debit_column_may_hold_negative_or_positive_numbers() -> None:
    data = b"Date,Description,Debit,Credit\n2024-01-02,a,-5.00,\n2024-01-03,b,5.00,\n"
    data += b"2024-01-04,c,0.00,7.00\n"

    amounts = [row.amount_minor for row in parse(data).rows]

    assert amounts == [-500, -500, 700]


def test_a_single_amount_column_wins_over_debit_and_credit() -> None:
    data = b"Date,Description,Amount,Debit,Credit\n2024-01-02,a,-5.00,5.00,\n"

    assert parse(data).rows[0].amount_minor == -500


def test_content_decides_the_format_not_the_file_name() -> None:
    statement = parse(b"Date,Description,Amount\n2024-01-02,x,1.00\n", "export.ofx")

    assert statement.format == "csv"


def test_a_header_with_a_bom_and_odd_spelling_is_recognised() -> None:
    data = "\ufeffTRANSACTION_DATE;Payee Name (merchant);Amount (EUR)\n2024-01-02;x;1,00\n"

    statement = parse(data.encode(), currency="EUR")

    assert statement.encoding == "utf-8-sig"
    assert statement.rows[0].amount_minor == 100


@pytest.mark.parametrize(
    ("cells", "roles"),
    [
        (["Posted", "Payee", "Amount"], (0, (1,), 2, None, None)),
        (["Booking Date", "Narrative", "Money Out", "Money In", "Balance"], (0, (1,), None, 2, 3)),
        (["Buchungstag", "Verwendungszweck", "Soll", "Haben"], (0, (1,), None, 2, 3)),
        (["Date", "Libellé", "Débit", "Crédit"], (0, (1,), None, 2, 3)),
        (["Transaction Date", "Post Date", "Name", "Memo", "Amount"], (0, (2, 3), 4, None, None)),
    ],
)
def test_header_synonyms(cells: list[str], roles: tuple[object, ...]) -> None:
    columns = map_columns(cells)

    found = (columns.date, columns.descriptions, columns.amount, columns.debit, columns.credit)
    assert found == roles


def test_header_normalisation() -> None:
    assert normalise_header(" Währung ") == "wahrung"
    assert normalise_header("Amount (GBP)") == "amount"
    assert normalise_header("Trans._Date") == "trans date"


def test_a_csv_upload_does_not_import_the_ofx_reader() -> None:
    code = (
        "import sys, core.writes.statements as s;"
        "s.parse_statement(b'Date,Description,Amount\\n2024-01-02,x,1\\n', 'a.csv',"
        " default_currency='USD', max_bytes=100, max_rows=5);"
        "print(any(name.startswith('core.writes.statements.ofx') for name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


def test_excel_sep_line_can_name_a_tab() -> None:
    statement = parse(b"sep=\t\r\nDate\tDescription\tAmount\r\n2024-01-02\tx, y\t1.00\r\n")

    assert statement.delimiter == "\t"
    assert statement.rows[0].description == "x, y"
    assert statement.rows[0].line == 3
