"""Errors raised by statement parsing; each carries the HTTP status the upload endpoint returns."""

from __future__ import annotations

from dataclasses import dataclass

MAX_LISTED_ERRORS = 50
"""At most this many line errors are kept; a file with thousands of bad lines would otherwise
produce a response bigger than the upload itself."""

_ERRORS_IN_MESSAGE = 3

EXPECTED_FORMATS = (
    "Expected a CSV file (comma, semicolon or tab separated) with a header row naming a date, "
    "a description and an amount column (or separate debit and credit columns), "
    "or an OFX/QFX file."
)


@dataclass(frozen=True, slots=True)
class LineError:
    """One problem in the file.

    `line` is the 1-based physical line (CSV) or the transaction's ordinal (OFX);
    0 means the problem is not tied to a line (an upload option such as `currency`).
    """

    line: int
    column: str | None
    reason: str

    def describe(self, unit: str = "line") -> str:
        where = f"{unit} {self.line}" if self.line else "options"
        column = f" ({self.column})" if self.column else ""
        return f"{where}{column}: {self.reason}"


class StatementError(Exception):
    """Base class: the statement was rejected and nothing should be imported."""

    status: int = 422

    def __init__(self, message: str, errors: list[LineError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[LineError] = list(errors or [])


class StatementTooLarge(StatementError):
    """More bytes or more rows than the caller allows."""

    status = 413


class UnsupportedFormat(StatementError):
    """Not a statement format we read (binary, image, PDF, spreadsheet, UTF-16 ...)."""

    status = 415

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} {EXPECTED_FORMATS}")


class InvalidStatement(StatementError):
    """A readable format with bad content; `errors` lists the offending lines."""

    status = 422

    def __init__(self, errors: list[LineError], *, total: int | None = None, unit: str = "line"):
        ordered = sorted(errors, key=lambda e: e.line)[:MAX_LISTED_ERRORS]
        self.total = max(total or 0, len(errors))
        shown = "; ".join(error.describe(unit) for error in ordered[:_ERRORS_IN_MESSAGE])
        more = self.total - min(len(ordered), _ERRORS_IN_MESSAGE)
        suffix = f"; and {more} more" if more > 0 else ""
        plural = "problem" if self.total == 1 else "problems"
        message = f"The statement has {self.total} {plural}, nothing was imported: {shown}{suffix}"
        super().__init__(message, ordered)


class ErrorCollector:
    """Gathers line errors while parsing continues, keeping only the first few in memory."""

    __slots__ = ("errors", "total")

    def __init__(self) -> None:
        self.errors: list[LineError] = []
        self.total = 0

    def add(self, line: int, column: str | None, reason: str) -> None:
        self.total += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(LineError(line, column, reason))

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self, unit: str = "line") -> None:
        if self.total:
            raise InvalidStatement(self.errors, total=self.total, unit=unit)


# Said when rows name no currency and neither the upload nor the configuration gives one.
NO_CURRENCY = (
    "the file names no currency: send the upload's currency field (e.g. currency=EUR),"
    " or set DEFAULT_CURRENCY"
)
