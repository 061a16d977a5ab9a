"""Import keys: the same file gives the same keys; identical purchases get different ones."""

from __future__ import annotations

import datetime
from pathlib import Path

from core.writes.statements import ParsedStatement, parse_statement
from core.writes.statements.import_keys import ImportKeys

GOOD = Path(__file__).parent / "corpus" / "good"


def parse(data: bytes, name: str = "statement.csv", **options: str) -> ParsedStatement:
    return parse_statement(
        data, name, default_currency="USD", max_bytes=1_000_000, max_rows=1_000, **options
    )


def test_same_file_twice_gives_the_same_keys() -> None:
    data = (GOOD / "identical_same_day.csv").read_bytes()

    first = [row.import_key for row in parse(data).rows]
    second = [row.import_key for row in parse(data).rows]

    assert first == second


def test_identical_purchases_on_one_day_get_distinct_keys() -> None:
    rows = parse((GOOD / "identical_same_day.csv").read_bytes()).rows

    keys = [row.import_key for row in rows]
    assert len(set(keys)) == 4
    assert (rows[0].date, rows[0].amount_minor) == (rows[1].date, rows[1].amount_minor)


def test_keys_ignore_case_and_spacing_of_descriptions_and_the_file_layout() -> None:
    plain = b"Date,Description,Amount\n2024-01-05,Coffee Cart,-3.75\n"
    other_export = b"Posted;Memo;Betrag\r\n\r\n2024-01-05;  COFFEE   CART ;-3,75\r\n"

    assert parse(plain).rows[0].import_key == parse(other_export).rows[0].import_key


def test_keys_change_with_any_identifying_field() -> None:
    base = b"Date,Description,Amount\n2024-01-05,Coffee,-3.75\n"
    variants = [
        b"Date,Description,Amount\n2024-01-06,Coffee,-3.75\n",
        b"Date,Description,Amount\n2024-01-05,Tea,-3.75\n",
        b"Date,Description,Amount\n2024-01-05,Coffee,-3.76\n",
    ]
    base_key = parse(base).rows[0].import_key

    assert all(parse(variant).rows[0].import_key != base_key for variant in variants)
    assert parse(base, currency="EUR").rows[0].import_key != base_key


def test_occurrence_numbering_survives_a_longer_statement_holding_the_same_rows() -> None:
    march = b"Date,Description,Amount\n2024-03-01,Coffee,-3\n2024-03-01,Coffee,-3\n"
    march_and_april = march + b"2024-04-01,Rent,-900\n"

    march_keys = [row.import_key for row in parse(march).rows]
    later_keys = [row.import_key for row in parse(march_and_april).rows]

    assert later_keys[:2] == march_keys


def test_ofx_keys_come_from_fitid_and_account() -> None:
    data = (GOOD / "ofx1_sgml_checking.ofx").read_bytes()
    renamed = data.replace(b"<NAME>GROCERY OUTLET", b"<NAME>GROCERY OUTLET STORE 12")
    other_account = data.replace(b"<ACCTID>000123456789", b"<ACCTID>000999999999")

    keys = [row.import_key for row in parse(data, "a.ofx").rows]

    # The bank's FITID identifies the transaction even if its text is edited later.
    assert [row.import_key for row in parse(renamed, "a.ofx").rows] == keys
    assert not set(keys) & {row.import_key for row in parse(other_account, "a.ofx").rows}


def test_ofx_rows_without_fitid_fall_back_to_content_keys_with_occurrences() -> None:
    rows = parse((GOOD / "ofx_without_header.ofx").read_bytes(), "x.ofx", currency="CHF").rows

    csv_twin = parse(b"Date,Description,Amount\n2024-01-02,Parking,-15.00\n", currency="CHF")

    assert rows[0].import_key != rows[1].import_key
    # The entry without FITID is keyed like the same transaction from a CSV export would be,
    # at its occurrence index among identical content-keyed rows in its own file.
    assert rows[1].import_key == csv_twin.rows[0].import_key


def test_repeated_fitid_in_one_file_still_gives_distinct_keys() -> None:
    keys = ImportKeys()

    first = keys.for_fitid("acct", "42")
    second = keys.for_fitid("acct", "42")

    assert first != second
    assert len(first) == 64


def test_content_keys_are_deterministic_across_instances() -> None:
    day = datetime.date(2024, 1, 1)

    assert ImportKeys().for_content(day, -100, "USD", "Coffee") == ImportKeys().for_content(
        day, -100, "USD", "  coffee "
    )
