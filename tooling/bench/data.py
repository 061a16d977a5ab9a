"""Seeded benchmark data: a ledger of users and transactions, and a large statement CSV.

The ledger is loaded with COPY because it is setup, not a measured path; what is measured starts
from the state the write path leaves behind (rows written, data version bumped, summary dirty).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from core.summary.cells import cells_of
from core.summary.rollups import cell_rows
from core.summary.shapes import Txn

START = dt.date(2024, 1, 1)
DAYS = 365
# Most users keep one currency; some hold a second, which doubles their summary rows.
CURRENCIES = ("USD", "EUR", "GBP")
CURRENCY_WEIGHTS = (0.75, 0.2, 0.05)
SECOND_CURRENCY_SHARE = 0.2
INCOME_SHARE = 0.1
MERCHANTS = (
    "GROCERY MARKET 1042",
    "COFFEE HOUSE DOWNTOWN",
    "ONLINE BOOKSTORE",
    "CITY TRANSIT FARE",
    "ELECTRIC UTILITY",
    "PHARMACY 24H",
    "STREAMING SERVICE",
    "FUEL STATION 88",
    "HARDWARE STORE",
    "RESTAURANT LA PLAZA",
)
CATEGORIES = ("Groceries", "Dining", "Shopping", "Transport", "Utilities", "Health", None)
# Upper bound of one generated CSV line, so the upload limits can be sized before generating.
CSV_MAX_LINE_BYTES = 96

LedgerRow = tuple[str, dt.date, int, str, str, str | None]


def user_ids(count: int, prefix: str = "bench") -> list[str]:
    return [f"{prefix}-{i:06d}" for i in range(count)]


def conninfo(sqlalchemy_url: str) -> str:
    """The psycopg form of a `postgresql+psycopg://` URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def ledger(users: Sequence[str], per_user: int, seed: int) -> Iterator[LedgerRow]:
    rng = random.Random(seed)
    for uid in users:
        home = rng.choices(CURRENCIES, CURRENCY_WEIGHTS)[0]
        second = rng.choice([c for c in CURRENCIES if c != home])
        has_second = rng.random() < SECOND_CURRENCY_SHARE
        for _ in range(per_user):
            currency = second if has_second and rng.random() < 0.3 else home
            day = START + dt.timedelta(days=rng.randrange(DAYS))
            if rng.random() < INCOME_SHARE:
                yield uid, day, rng.randint(100_000, 500_000), currency, "PAYROLL ACME", "Income"
                continue
            amount = -rng.randint(100, 20_000)
            yield uid, day, amount, currency, rng.choice(MERCHANTS), rng.choice(CATEGORIES)


def load_ledger(url: str, users: Sequence[str], per_user: int, seed: int) -> int:
    """Users with a dirty summary and their transactions, as after the write path; row count."""
    now = dt.datetime.now(dt.UTC)
    count = 0
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY users (id, created_at, data_version, summary_version, summary_dirty_since) "
            "FROM STDIN"
        ) as copy:
            for uid in users:
                copy.write_row((uid, now, 1, 0, now))
        cur.execute(
            "INSERT INTO accounts (user_id, name, created_at) "
            "SELECT u, 'default', %s FROM unnest(%s::text[]) AS u RETURNING user_id, id",
            (now, list(users)),
        )
        accounts = {str(uid): int(ident) for uid, ident in cur.fetchall()}
        with cur.copy(
            "COPY transactions (account_id, user_id, date, amount_minor, currency, description, "
            "category, created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in ledger(users, per_user, seed):
                copy.write_row((accounts[row[0]], *row, now, now))
                count += 1
        conn.commit()
    build_cells(url, users)
    analyze(url)
    return count


def build_cells(url: str, users: Sequence[str]) -> int:
    """The users' rollup cells from their rows, as the write path would have kept them (setup:
    one pass over the rows and one COPY, not a measured path); the number of cells."""
    rows = (
        "SELECT user_id, date, amount_minor, currency, description, category, account_id "
        "FROM transactions WHERE user_id = ANY(%s) ORDER BY user_id"
    )
    built = 0
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM summary_rollups WHERE user_id = ANY(%s)", (list(users),))
        cells: list[dict[str, Any]] = []
        with conn.cursor(name="bench_cells") as source:
            source.itersize = 10_000
            source.execute(rows, (list(users),))
            for user_id, group in groupby(source, key=itemgetter(0)):
                found = cells_of(
                    (Txn(d, int(a), c, t or "", g), int(acct)) for _, d, a, c, t, g, acct in group
                )
                cells += cell_rows(str(user_id), found.values())
        if cells:
            columns = list(cells[0])
            command = f"COPY summary_rollups ({', '.join(columns)}) FROM STDIN"
            with cur.copy(command) as copy:
                for cell in cells:
                    copy.write_row([cell[name] for name in columns])
        cur.execute("UPDATE users SET rollups_built = true WHERE id = ANY(%s)", (list(users),))
        built = len(cells)
        conn.commit()
    return built


def analyze(url: str) -> None:
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def reset_summaries(url: str) -> None:
    """Forget every computed summary, so the next drain does exactly the work of the first.

    TRUNCATE rather than DELETE leaves the output tables as empty as before the first run, so
    no repetition pays for another's dead rows.
    """
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(
            "TRUNCATE notifications, background_jobs, financial_summaries, drain_runs "
            "RESTART IDENTITY"
        )
        conn.execute("UPDATE users SET summary_version = 0, summary_dirty_since = now()")
        conn.execute("VACUUM ANALYZE users")


def mark_all_fresh(url: str) -> None:
    """Every summary current, as after a complete drain: the state an idle tick expects."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("UPDATE users SET summary_version = data_version, summary_dirty_since = NULL")


def statement_csv(rows: int, seed: int) -> bytes:
    """A bank export with ISO dates (unambiguous), a category column and signed amounts."""
    rng = random.Random(seed)
    lines = ["Date,Description,Category,Amount"]
    for i in range(rows):
        day = START + dt.timedelta(days=rng.randrange(DAYS))
        cents = rng.randint(-25_000, 5_000) or 1
        sign = "-" if cents < 0 else ""
        amount = f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        category = rng.choice(CATEGORIES) or ""
        lines.append(f"{day.isoformat()},{rng.choice(MERCHANTS)} {i:07d},{category},{amount}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
