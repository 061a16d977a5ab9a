"""The entry points: `open_statement` (rows streamed) and `parse_statement` (rows in a list)."""

from __future__ import annotations

import codecs
import re
from typing import cast

from core.base.currencies import normalise_currency
from core.writes.statements.csv_format import CsvOptions, open_csv
from core.writes.statements.dates import DATE_ORDERS
from core.writes.statements.detect import (
    SAMPLE_BYTES,
    looks_like_ofx,
    open_text,
    refuse_binary,
    refuse_markup,
)
from core.writes.statements.errors import InvalidStatement, LineError
from core.writes.statements.rows import AmountSign, DateOrder, ParsedStatement, StatementStream
from core.writes.statements.source import ByteSource, StatementData

AMOUNT_SIGNS: tuple[AmountSign, ...] = ("income_positive", "expense_positive")
_NOT_BLANK = re.compile(rb"[^ \t\r\n\x0b\x0c]")
_MARKUP_SAMPLE_CHARS = 200


def open_statement(
    data: StatementData,
    filename: str,
    *,
    default_currency: str | None,
    currency: str | None = None,
    date_order: str | None = None,
    max_bytes: int,
    max_rows: int,
    amount_sign: str | None = None,
) -> StatementStream:
    """Check an uploaded statement as a whole, for its rows to be read by iterating.

    `data` is the file's bytes or a seekable binary file (such as the spooled file of an
    upload), read from its start. A file is read in chunks on every pass and never held whole,
    except an OFX/QFX file, which is read at once: OFX files are small, and the library that
    reads them wants the whole document. Iterating reads the file again, so it must stay open
    until the iteration ends.
    `currency` (the upload form's field) applies to rows the file gives no currency for;
    `default_currency` (configuration) applies when the form gave none either; with neither,
    a file that names no currency is refused (InvalidStatement, saying what to send).
    `date_order` ("dmy", "mdy", "ymd") settles numeric dates the file leaves ambiguous.
    `amount_sign` "expense_positive" flips a single amount column, for card exports that
    write charges as positive numbers; debit/credit columns and OFX already say which is which.
    Empty strings count as not given, as a form sends them.

    Raises StatementTooLarge (413), UnsupportedFormat (415) or InvalidStatement (422) for
    what the file as a whole shows; iterating raises InvalidStatement, at its end, for bad rows.
    A file over `max_bytes` is refused before any of it is read, or, should its size have
    changed since, as soon as a read passes the limit.
    """
    if max_bytes <= 0 or max_rows <= 0:
        raise ValueError("max_bytes and max_rows must be positive")
    source = ByteSource(data, max_bytes)
    default = normalise_currency(default_currency) if default_currency else None
    fallback = _resolve_currency(currency, default)
    order = _resolve_choice("date_order", date_order, DATE_ORDERS)
    sign = _resolve_choice("amount_sign", amount_sign, AMOUNT_SIGNS) or "income_positive"
    head = source.read(0, SAMPLE_BYTES)
    if _is_blank(source, head):
        raise InvalidStatement([LineError(1, None, "the file is empty")])
    refuse_binary(head)
    if looks_like_ofx(head):
        from core.writes.statements.ofx_format import open_ofx

        return open_ofx(source.read_all(), filename, currency=fallback, max_rows=max_rows)
    text = open_text(source)
    refuse_markup(text.head(_MARKUP_SAMPLE_CHARS))
    options = CsvOptions(
        currency=fallback,
        date_order=cast(DateOrder | None, order),
        amount_sign=cast(AmountSign, sign),
        max_rows=max_rows,
    )
    return open_csv(text, options)


def parse_statement(
    data: StatementData,
    filename: str,
    *,
    default_currency: str | None,
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


def _is_blank(source: ByteSource, head: bytes) -> bool:
    """Whether the file holds nothing but a UTF-8 byte order mark and whitespace.

    Decided by the first chunk for any real file; a search rather than strip(), which would copy
    every chunk it looked at.
    """
    bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    if _NOT_BLANK.search(head, bom):
        return False
    return not any(_NOT_BLANK.search(chunk) for chunk in source.chunks(len(head)))


def _resolve_currency(currency: str | None, default: str | None) -> str | None:
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
