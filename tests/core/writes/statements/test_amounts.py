"""Amounts to integer minor units: bank formats, currency exponents, and the API's strict form."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from core.writes.statements import (
    amount_to_minor,
    currency_exponent,
    is_valid_currency,
    parse_amount,
)
from core.writes.statements.amounts import decimal_mark_hint


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("12.34", "USD", 1234),
        ("-12.34", "USD", -1234),
        ("+12.34", "USD", 1234),
        ("0", "USD", 0),
        ("-0.00", "USD", 0),
        (".5", "USD", 50),
        ("1,234.56", "USD", 123456),
        ("1,234,567.89", "USD", 123456789),
        ("(12.34)", "USD", -1234),
        ("($1,234.56)", "USD", -123456),
        ("12,34", "EUR", 1234),
        ("1.234,56", "EUR", 123456),
        ("-1.234.567,89", "EUR", -123456789),
        ("1 234,56", "EUR", 123456),
        ("1\u202f234,56\u00a0€", "EUR", 123456),
        ("1'234.50", "CHF", 123450),
        ("$12", "USD", 1200),
        ("-$5.10", "USD", -510),
        ("$-5.10", "USD", -510),
        ("€ 5", "EUR", 500),
        ("£1,000", "GBP", 100000),
        ("US$3.00", "USD", 300),
        ("USD 12.00", "USD", 1200),
        ("12.00 usd", "USD", 1200),
        ("EUR -3,50", "EUR", -350),
        ("12.34-", "USD", -1234),
        ("12.34 DR", "USD", -1234),
        ("12.34 CR", "USD", 1234),
        ("\u22125.00", "USD", -500),
        ("25 kr", "SEK", 2500),
        ("1,234", "USD", 123400),
        ("1,234", "JPY", 1234),
        ("¥1,234", "JPY", 1234),
        ("1500", "JPY", 1500),
        ("1.500", "KWD", 1500),
        ("-12.375", "BHD", -12375),
        ("1,23,456.50", "INR", 12345650),
        ("12.340", "USD", 1234),
        ("100.00", "JPY", 100),
    ],
)
def test_parse_amount_reads_bank_formats(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency) == expected


@pytest.mark.parametrize(
    ("text", "currency", "reason"),
    [
        ("", "USD", "missing amount"),
        ("   ", "USD", "missing amount"),
        ("abc", "USD", "amount 'abc' is not a number"),
        ("12.345", "USD", "more decimals than USD allows (at most 2 decimal places)"),
        ("12.5", "JPY", "more decimals than JPY allows (no decimal places)"),
        ("1.0001", "KWD", "more decimals than KWD allows (at most 3 decimal places)"),
        ("1e5", "USD", "not a number"),
        ("nan", "USD", "not a number"),
        ("Infinity", "USD", "not a number"),
        ("--5", "USD", "more than one sign"),
        ("(-5)", "USD", "more than one sign"),
        ("-5 CR", "USD", "more than one sign"),
        ("1,2,3", "USD", "misplaced thousands separators"),
        ("12..3", "USD", "misplaced thousands separators"),
        ("EUR 5", "USD", "is in EUR but the row's currency is USD"),
        ("5 XYZ", "USD", "not a number"),
        ("999999999999999", "USD", "too large"),
        ("1.123456789", "USD", "too many decimals"),
        ("12", "XYZ", "not a known ISO 4217 currency code"),
    ],
)
def test_parse_amount_refuses_with_a_reason(text: str, currency: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_amount(text, currency)


def test_file_wide_decimal_comma_makes_a_lone_dot_a_thousands_separator() -> None:
    assert parse_amount("1.234", "EUR", decimal_mark=",") == 123400
    with pytest.raises(ValueError, match="misplaced thousands separators"):
        parse_amount("12.50", "EUR", decimal_mark=",")
    with pytest.raises(ValueError, match="more decimals than EUR allows"):
        parse_amount("1.234", "EUR", decimal_mark=".")


def test_without_a_file_wide_mark_a_lone_dot_is_a_decimal_point() -> None:
    with pytest.raises(ValueError, match="more decimals than EUR allows"):
        parse_amount("1.234", "EUR")


@pytest.mark.parametrize(
    ("text", "mark"),
    [
        ("12.34", "."),
        ("12,34", ","),
        ("1,234.56", "."),
        ("1.234,56", ","),
        ("1,234,567", "."),
        ("1.234.567", ","),
        ("1,234", None),
        ("1.234", None),
        ("1234", None),
        ("-€ 4,5", ","),
    ],
)
def test_decimal_mark_hint(text: str, mark: str | None) -> None:
    assert decimal_mark_hint(text) == mark


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (1234, "USD", 1234),
        (-5, "JPY", -5),
        ("12.34", "USD", 1234),
        ("-5", "USD", -500),
        (" 7.5 ", "USD", 750),
        ("12.345", "KWD", 12345),
        ("1200", "JPY", 1200),
    ],
)
def test_amount_to_minor_accepts_ints_and_decimal_strings(
    value: str | int, currency: str, expected: int
) -> None:
    assert amount_to_minor(value, currency) == expected


@pytest.mark.parametrize("value", [12.34, 0.1, True, Decimal("1.00"), None, b"12"])
def test_amount_to_minor_rejects_floats_and_other_types(value: Any) -> None:
    with pytest.raises(TypeError, match="decimal string"):
        amount_to_minor(value, "USD")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1,234.56", "not a decimal number"),
        ("$5", "not a decimal number"),
        ("", "not a decimal number"),
        ("1e3", "not a decimal number"),
        ("12.345", "more decimals than USD allows"),
        (10**17, "too large"),
    ],
)
def test_amount_to_minor_is_strict_about_strings(value: str | int, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        amount_to_minor(value, "USD")


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("KWD", 3),
     ("TND", 3), ("CLF", 4)],
)  # fmt: skip
def test_currency_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert is_valid_currency(code)


@pytest.mark.parametrize("code", ["usd", "US", "USDD", "XYZ", "XAU", "EU1", "", " USD"])
def test_invalid_currency_codes(code: str) -> None:
    assert not is_valid_currency(code)
    with pytest.raises(ValueError, match="not a known ISO 4217 currency code"):
        currency_exponent(code)
