"""CSV exports: find the header row (`csv_header`), then read the rows in two streaming passes.

The first pass only gathers evidence that needs the whole file (row count, day/month order,
decimal mark); the second builds rows with what the first decided, one at a time, for the caller
to store as they come. Both passes read the upload a chunk at a time and decode it line by line,
so memory holds a chunk and one row, never the file, its text or a list of its rows.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.base.currencies import normalise_currency
from core.writes.statements.amounts import decimal_mark_hint, parse_amount
from core.writes.statements.columns import ColumnMap
from core.writes.statements.csv_header import Header, find_header, mixed_delimiter_hint
from core.writes.statements.dates import (
    AmbiguousDate,
    DateOrderDetector,
    describe_order,
    is_day_month_date,
    parse_date,
)
from core.writes.statements.detect import TextSource
from core.writes.statements.errors import (
    NO_CURRENCY,
    ErrorCollector,
    InvalidStatement,
    LineError,
    StatementTooLarge,
)
from core.writes.statements.import_keys import ImportKeys
from core.writes.statements.rows import (
    MAX_CATEGORY_CHARS,
    MAX_DESCRIPTION_CHARS,
    AmountSign,
    DateOrder,
    ParsedRow,
    StatementStream,
    clean_text,
)

_DATE_CACHE_LIMIT = 10_000
# A row with no amount whose description starts so is the bank's balance line, not a
# transaction (Bank of America writes "Beginning balance as of 01/01/2025" among the rows).
_BALANCE_PREFIXES = (
    "beginning balance",
    "opening balance",
    "starting balance",
    "ending balance",
    "closing balance",
    "balance forward",
    "balance brought forward",
    "balance carried forward",
    "previous balance",
    "new balance",
)


@dataclass(frozen=True, slots=True)
class CsvOptions:
    currency: str | None  # rows with no currency column or an empty cell; None: refused
    date_order: DateOrder | None
    amount_sign: AmountSign
    max_rows: int


@dataclass(slots=True)
class Evidence:
    rows: int = 0
    dates: DateOrderDetector = field(default_factory=DateOrderDetector)
    dot_votes: int = 0
    comma_votes: int = 0
    balance_lines: list[int] = field(default_factory=list)

    @property
    def decimal_mark(self) -> str | None:
        if self.comma_votes > self.dot_votes:
            return ","
        return "." if self.dot_votes > self.comma_votes else None


def open_csv(source: TextSource, options: CsvOptions) -> StatementStream:
    """The first pass now (header, row count, date order, decimal mark); rows on iteration."""
    header = find_header(source)
    if options.currency is None and header.columns.currency is None:
        raise InvalidStatement([LineError(header.line, "currency", NO_CURRENCY)])
    evidence = scan(source, header, options.max_rows)
    date_order, ambiguity = _decide_date_order(evidence, header, options)
    decimal_mark, row_count = evidence.decimal_mark, evidence.rows

    def read_rows() -> Iterator[ParsedRow]:
        errors = ErrorCollector()
        if ambiguity is not None:
            # Rows are still read, so the user learns about every other problem in one go.
            errors.add(ambiguity.line, ambiguity.column, ambiguity.reason)
        builder = RowBuilder(header, options, date_order, decimal_mark, errors, row_count)
        for line, fields in records(source, header):
            row = builder.build(line, fields)
            if row is not None:
                yield row
        errors.raise_if_any()

    return StatementStream(
        "csv",
        source.encoding,
        header.delimiter,
        date_order,
        row_count,
        read_rows,
        balance_lines=tuple(evidence.balance_lines),
    )


def records(source: TextSource, header: Header) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records after the header, each with the physical line it starts on."""
    reader = csv.reader(source.lines(header.body_start), delimiter=header.delimiter)
    consumed = 0
    try:
        for fields in reader:
            start, consumed = header.line + consumed + 1, reader.line_num
            if any(cell.strip() for cell in fields):
                yield start, fields
    except csv.Error as exc:
        line = header.line + consumed + 1
        raise InvalidStatement([LineError(line, None, f"could not read the CSV: {exc}")]) from None


def scan(source: TextSource, header: Header, max_rows: int) -> Evidence:
    columns = header.columns
    amount_cells = [i for i in (columns.amount, columns.debit, columns.credit) if i is not None]
    evidence = Evidence()
    for line, fields in records(source, header):
        evidence.rows += 1
        if evidence.rows > max_rows:
            raise StatementTooLarge(
                f"The statement has more than {max_rows} transactions; "
                "split it into smaller files.",
                [LineError(line, None, f"row limit of {max_rows} exceeded")],
            )
        if len(fields) < header.width:
            continue  # reported as a ragged row in the second pass
        if is_balance_line(fields, columns):
            evidence.rows -= 1
            evidence.balance_lines.append(line)
            continue
        if columns.date is not None:
            evidence.dates.observe(fields[columns.date], line)
        for index in amount_cells:
            mark = decimal_mark_hint(fields[index])
            evidence.dot_votes += mark == "."
            evidence.comma_votes += mark == ","
    if not evidence.rows:
        raise InvalidStatement([LineError(header.line, None, "the file has no transaction rows")])
    return evidence


def is_balance_line(fields: list[str], columns: ColumnMap) -> bool:
    """A row with every amount cell blank whose description starts like a balance line."""
    amounts = (columns.amount, columns.debit, columns.credit)
    if any(fields[index].strip() for index in amounts if index is not None):
        return False
    text = " ".join(" ".join(fields[index].split()) for index in columns.descriptions)
    return text.casefold().startswith(_BALANCE_PREFIXES)


def _decide_date_order(
    evidence: Evidence, header: Header, options: CsvOptions
) -> tuple[DateOrder | None, LineError | None]:
    """The order rows are read with, or the ambiguity to report with the rows' own errors."""
    if options.date_order is not None:
        return options.date_order, None
    try:
        return evidence.dates.resolve(), None
    except AmbiguousDate as exc:
        column = header.columns.names[header.columns.date or 0]
        return None, LineError(evidence.dates.ambiguous_line, column, str(exc))


class RowBuilder:
    """Turns one record into a ParsedRow, or into line errors."""

    def __init__(
        self,
        header: Header,
        options: CsvOptions,
        date_order: DateOrder | None,
        decimal_mark: str | None,
        errors: ErrorCollector,
        expected_rows: int = 0,
    ) -> None:
        self._header = header
        self._columns = header.columns
        self._options = options
        self._date_order = date_order
        self._decimal_mark = decimal_mark
        self._errors = errors
        self._dates: dict[str, datetime.date | str] = {}
        self._currencies: dict[str, str] = {}
        self._categories: dict[str, str] = {}
        self._keys = ImportKeys(expected_rows)
        self._sign = -1 if options.amount_sign == "expense_positive" else 1

    def build(self, line: int, fields: list[str]) -> ParsedRow | None:
        if not self._has_width(line, fields) or is_balance_line(fields, self._columns):
            return None
        date = self._date(line, fields)
        currency = self._currency(line, fields)
        amount = None if currency is None else self._amount(line, fields, currency)
        if date is None or currency is None or amount is None or self._errors:
            return None  # once the file is rejected, building rows would only cost memory
        description = self._description(fields)
        return ParsedRow(
            line=line,
            date=date,
            amount_minor=amount,
            currency=currency,
            description=description,
            category=self._category(fields),
            import_key=self._keys.for_content(date, amount, currency, description),
        )

    def _has_width(self, line: int, fields: list[str]) -> bool:
        width = self._header.width
        if len(fields) == width or (
            len(fields) > width and not any(cell.strip() for cell in fields[width:])
        ):
            return True
        reason = f"expected {width} fields but found {len(fields)}"
        self._errors.add(line, None, reason + mixed_delimiter_hint(fields, self._header))
        return False

    def _date(self, line: int, fields: list[str]) -> datetime.date | None:
        assert self._columns.date is not None
        name = self._columns.names[self._columns.date]
        cell = fields[self._columns.date].strip()
        if not cell:
            self._errors.add(line, name, "missing date")
            return None
        parsed = self._dates.get(cell)
        if parsed is None:
            parsed = self._parse_date(cell)
            if len(self._dates) < _DATE_CACHE_LIMIT:
                self._dates[cell] = parsed
        if isinstance(parsed, str):
            if parsed:  # an empty reason: the ambiguity was already reported once for the file
                self._errors.add(line, name, parsed)
            return None
        return parsed

    def _parse_date(self, cell: str) -> datetime.date | str:
        try:
            return parse_date(cell, self._date_order)
        except AmbiguousDate:
            return ""
        except ValueError as exc:
            if self._date_order is not None and is_day_month_date(cell):
                return f"{exc} (this file's dates are {describe_order(self._date_order)})"
            return str(exc)

    def _currency(self, line: int, fields: list[str]) -> str | None:
        index = self._columns.currency
        cell = fields[index].strip() if index is not None else ""
        if not cell:
            if self._options.currency is None:
                assert index is not None  # a file with no currency column was refused first
                self._errors.add(line, self._columns.names[index], NO_CURRENCY)
            return self._options.currency
        known = self._currencies.get(cell)
        if known is None:
            try:
                known = self._currencies[cell] = normalise_currency(cell)
            except ValueError as exc:
                assert index is not None
                self._errors.add(line, self._columns.names[index], str(exc))
                return None
        return known

    def _amount(self, line: int, fields: list[str], currency: str) -> int | None:
        columns = self._columns
        if columns.amount is not None:
            value = self._read_amount(line, fields, columns.amount, currency, required=True)
            return None if value is None else value * self._sign
        assert columns.debit is not None
        assert columns.credit is not None
        debit = self._read_amount(line, fields, columns.debit, currency, required=False)
        credit = self._read_amount(line, fields, columns.credit, currency, required=False)
        pair = f"{columns.names[columns.debit]}/{columns.names[columns.credit]}"
        if not fields[columns.debit].strip() and not fields[columns.credit].strip():
            self._errors.add(line, pair, "missing amount")
            return None
        if debit is None or credit is None:
            return None
        if debit and credit:
            self._errors.add(line, pair, "both debit and credit have a value")
            return None
        # Banks disagree on whether debits are written "12.34" or "-12.34"; the column says it.
        return abs(credit) - abs(debit)

    def _read_amount(
        self, line: int, fields: list[str], index: int, currency: str, *, required: bool
    ) -> int | None:
        cell = fields[index].strip()
        if not cell:
            if required:
                self._errors.add(line, self._columns.names[index], "missing amount")
                return None
            return 0
        try:
            return parse_amount(cell, currency, decimal_mark=self._decimal_mark)
        except ValueError as exc:
            self._errors.add(line, self._columns.names[index], str(exc))
            return None

    def _description(self, fields: list[str]) -> str:
        parts: list[str] = []
        for index in self._columns.descriptions:
            part = clean_text(fields[index], MAX_DESCRIPTION_CHARS)
            if part and part not in parts:
                parts.append(part)
        return " - ".join(parts)[:MAX_DESCRIPTION_CHARS]

    def _category(self, fields: list[str]) -> str | None:
        index = self._columns.category
        if index is None:
            return None
        category = clean_text(fields[index], MAX_CATEGORY_CHARS)
        # Few distinct categories repeat across thousands of rows; share one string each.
        return self._categories.setdefault(category, category) if category else None
