"""Bank statement parsing: CSV exports and OFX/QFX files to validated transaction rows.

Pure logic: no database, no HTTP. May import `core.base`. The upload endpoint calls
`open_statement` with the upload's spooled file (bytes work too), which checks the file as a
whole, and stores the rows as it iterates them (`parse_statement` is the same with the rows in a
list); it maps `StatementError.status` to the response. The file is read in chunks on every
pass, never held whole. The JSON transactions API reuses the amount, currency and date helpers
for its own validation.

Decisions a user can notice:
- Day/month order is decided for the whole file. One date with a first field over 12 makes the
  file day-first (a second field over 12: month-first); dates that disagree with that are line
  errors. When every date reads both ways, the upload is refused (422) asking for `date_order`,
  except for dotted dates (05.03.2024), which are day-first by convention. ISO dates always read.
- All or nothing: any bad line rejects the file, and every bad line is reported (50 listed).
  A stream reports bad lines when its iteration ends, so its consumer must roll back.
- Amounts with more decimals than the currency has are refused unless the extra digits are
  zeros (`12.340` USD is 12.34; `12.345` is an error).
- UTF-16 files are refused (415) with a hint to save as UTF-8; text that is not UTF-8 is read
  as Windows-1252 when it uses that code page's extra characters, else as Latin-1.
"""

from core.base.currencies import currency_exponent, is_valid_currency
from core.writes.statements.amounts import MAX_ABS_MINOR, amount_to_minor, parse_amount
from core.writes.statements.dates import AmbiguousDate, parse_date
from core.writes.statements.errors import (
    InvalidStatement,
    LineError,
    StatementError,
    StatementTooLarge,
    UnsupportedFormat,
)
from core.writes.statements.parser import open_statement, parse_statement
from core.writes.statements.rows import (
    Correction,
    ParsedRow,
    ParsedStatement,
    StatementStream,
)
from core.writes.statements.source import StatementData

__all__ = [
    "MAX_ABS_MINOR",
    "AmbiguousDate",
    "Correction",
    "InvalidStatement",
    "LineError",
    "ParsedRow",
    "ParsedStatement",
    "StatementData",
    "StatementError",
    "StatementStream",
    "StatementTooLarge",
    "UnsupportedFormat",
    "amount_to_minor",
    "currency_exponent",
    "is_valid_currency",
    "open_statement",
    "parse_amount",
    "parse_date",
    "parse_statement",
]
