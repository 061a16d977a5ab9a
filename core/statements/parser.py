"""The entry points: `open_statement` (rows streamed) and `parse_statement` (rows in a list)."""

from __future__ import annotations

import codecs
import re
from typing import cast

from core.statements.csv_format import CsvOptions, open_csv
from core.statements.currencies import normalise_currency
from core.statements.dates import DATE_ORDERS
from core.statements.detect import looks_like_ofx, open_text, refuse_binary, refuse_markup
from core.statements.errors import InvalidStatement, LineError, StatementTooLarge
from core.statements.model import AmountSign, DateOrder, ParsedStatement, StatementStream

AMOUNT_SIGNS: tuple[AmountSign, ...] = ("income_positive", "expense_positive")
_NOT_BLANK = re.compile(rb"[^ \t\r\n\x0b\x0c]")
_MARKUP_SAMPLE_CHARS = 200


def open_statement(
    data: bytes,
    filename: str,
    *,
    default_currency: str,
    currency: str | None = None,
    date_order: str | None = None,
    max_bytes: int,
    max_rows: int,
    amount_sign: str | None = None,
) -> StatementStream:
    """Check an uploaded statement as a whole, for its rows to be read by iterating.

    `currency` (the upload form's field) applies to rows the file gives no currency for;
    `default_currency` (configuration) applies when the form gave none either.
    `date_order` ("dmy", "mdy", "ymd") settles numeric dates the file leaves ambiguous.
    `amount_sign` "expense_positive" flips a single amount column, for card exports that
    write charges as positive numbers; debit/credit columns and OFX already say which is which.
    Empty strings count as not given, as a form sends them.

    Raises StatementTooLarge (413), UnsupportedFormat (415) or InvalidStatement (422) for
    what the file as a whole shows; iterating raises InvalidStatement, at its end, for bad rows.
    """
    if max_bytes <= 0 or max_rows <= 0:
        raise ValueError("max_bytes and max_rows must be positive")
    if len(data) > max_bytes:
        raise StatementTooLarge(
            f"The file is {len(data):,} bytes; the limit is {max_bytes:,} bytes."
        )
    fallback = _resolve_currency(currency, normalise_currency(default_currency))
    order = _resolve_choice("date_order", date_order, DATE_ORDERS)
    sign = _resolve_choice("amount_sign", amount_sign, AMOUNT_SIGNS) or "income_positive"
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    # A search rather than strip(): stripping would copy the whole upload to find it not empty.
    if not _NOT_BLANK.search(data, bom):
        raise InvalidStatement([LineError(1, None, "the file is empty")])
    refuse_binary(data)
    if looks_like_ofx(data):
        from core.statements.ofx_format import open_ofx

        return open_ofx(data, filename, currency=fallback, max_rows=max_rows)
    source = open_text(data)
    refuse_markup(source.head(_MARKUP_SAMPLE_CHARS))
    options = CsvOptions(
        currency=fallback,
        date_order=cast(DateOrder | None, order),
        amount_sign=cast(AmountSign, sign),
        max_rows=max_rows,
    )
    return open_csv(source, options)


def parse_statement(
    data: bytes,
    filename: str,
    *,
    default_currency: str,
    currency: str | None = None,
    date_order: str | None = None,
    max_bytes: int,
    max_rows: int,
    amount_sign: str | None = None,
) -> ParsedStatement:
    """`open_statement`, then every row in a list: all or nothing, for files that fit in memory.

    Raises what `open_statement` and its iteration raise.
    """
    stream = open_statement(
        data,
        filename,
        default_currency=default_currency,
        currency=currency,
        date_order=date_order,
        max_bytes=max_bytes,
        max_rows=max_rows,
        amount_sign=amount_sign,
    )
    rows = list(stream)
    return ParsedStatement(
        stream.format, rows, stream.encoding, stream.delimiter, stream.date_order
    )


def _resolve_currency(currency: str | None, default: str) -> str:
    if currency is None or not currency.strip():
        return default
    try:
        return normalise_currency(currency)
    except ValueError as exc:
        raise InvalidStatement([LineError(0, "currency", str(exc))]) from None


def _resolve_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None or not value.strip():
        return None
    choice = value.strip().lower()
    if choice not in allowed:
        options = ", ".join(f"'{option}'" for option in allowed)
        raise InvalidStatement([LineError(0, name, f"'{value}' is not one of {options}")])
    return choice
