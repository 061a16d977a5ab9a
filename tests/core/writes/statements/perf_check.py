"""Local timing check for a large CSV (not a test: timings on shared machines are noise).

Run: .venv/bin/python -m tests.core.writes.statements.perf_check [ROWS]
Prints parse time, rows/s and the peak memory traced during the parse next to the file size.
"""

from __future__ import annotations

import datetime
import sys
import time
import tracemalloc

from core.writes.statements import parse_statement

_MERCHANTS = (
    "GROCERY MARKET #1042 SPRINGFIELD",
    "COFFEE HOUSE DOWNTOWN",
    "ONLINE BOOKSTORE MKTPLACE PMTS",
    "CITY TRANSIT AUTHORITY FARE",
    "PAYROLL DEPOSIT ACME CORPORATION",
    "ELECTRIC UTILITY AUTOPAY",
)
_CATEGORIES = ("Groceries", "Dining", "Shopping", "Transport", "Income", "Utilities")


def generate_csv(rows: int) -> bytes:
    """A US-style export: month-first dates, thousands separators, quoted descriptions."""
    lines = ["Posted Date,Description,Category,Amount,Balance"]
    start = datetime.date(2020, 1, 1)
    for i in range(rows):
        day = start + datetime.timedelta(days=i // 30)
        cents = (i * 7919) % 250_000 - 150_000
        sign = "-" if cents < 0 else ""
        amount = f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"
        merchant = _MERCHANTS[i % len(_MERCHANTS)]
        lines.append(
            f'{day:%m/%d/%Y},"{merchant} REF {i:08d}",{_CATEGORIES[i % 6]},"{amount}",'
            f'"{(i * 31) % 99_999:,}.{i % 100:02d}"'
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def main(rows: int) -> None:
    data = generate_csv(rows)
    started = time.perf_counter()
    statement = parse_statement(
        data, "big.csv", default_currency="USD", max_bytes=len(data), max_rows=rows
    )
    elapsed = time.perf_counter() - started
    assert len(statement.rows) == rows
    del statement
    # tracemalloc slows parsing several times over, so memory is measured in a second run.
    tracemalloc.start()
    parse_statement(data, "big.csv", default_currency="USD", max_bytes=len(data), max_rows=rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{rows} rows, {len(data) / 1e6:.2f} MB: {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s)")
    print(f"peak traced memory, output rows included: {peak / 1e6:.1f} MB")
    print(f"that is {peak / len(data):.1f}x the file size")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
