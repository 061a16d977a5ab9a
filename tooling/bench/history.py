"""Section 8: what the drain and one change cost as a user's history grows.

At each size (`--history-rows`: 50, 500, 5,000 and 10,000 transactions per user) a set of users
is loaded (fewer at the larger sizes, so the section stays short) with their rollup cells, as
the write path leaves them. Then, `--repeat` times each:

- the drain: the job over all of them in batches of `DRAIN_BATCH_SIZE`, summaries reset first
  (users/s, ms per user);
- one change: one user writes one transaction through the write path (which refreshes that
  month's cells: the write's own time), then the job recomputes that user alone (the recompute
  cost the ratio is taken of).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable

import psycopg
from sqlmodel import Session

from core.drain.kinds import JobContext
from core.queue import ClaimedJob
from core.writes import transactions
from core.writes.ledger import SUMMARY_KIND
from core.writes.transactions import TransactionCreate
from functions import get_kind
from tooling.bench.data import conninfo, load_ledger, user_ids
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import median, ratio
from tooling.bench.report import HistoryFigures, HistoryPoint

# Rows loaded per size at most (users = this // rows per user, within the bounds below).
ROWS_PER_SIZE = 50_000
MIN_USERS, MAX_USERS = 5, 200


def _users_at(rows_per_user: int) -> int:
    return max(MIN_USERS, min(MAX_USERS, ROWS_PER_SIZE // rows_per_user))


def _context(env: BenchEnvironment) -> JobContext:
    return JobContext(
        kind=SUMMARY_KIND,
        run_id=uuid.uuid4().hex,
        trigger="bench",
        settings=env.settings,
        engine=env.engine,
    )


def _reset(url: str, users: list[str]) -> None:
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("UPDATE users SET summary_version = 0 WHERE id = ANY(%s)", (users,))


def _drain_seconds(env: BenchEnvironment, users: list[str]) -> float:
    kind = get_kind(SUMMARY_KIND)
    size = env.settings.drain_batch_size
    _reset(env.database_url, users)
    started = time.perf_counter()
    for start in range(0, len(users), size):
        result = kind.run([ClaimedJob(u, 1) for u in users[start : start + size]], _context(env))
        if result.failed or result.released:
            raise RuntimeError(f"the drain did not finish: {result}")
    return time.perf_counter() - started


def _one_change(env: BenchEnvironment, user: str, amount: int) -> tuple[float, float]:
    """(the write's seconds, the recompute's seconds) for one new transaction of `user`."""
    item = TransactionCreate(
        date=dt.date(2024, 6, 15),
        amount=f"-{amount}.00",
        currency="USD",
        description="COFFEE HOUSE DOWNTOWN",
        category="Dining",
    )
    started = time.perf_counter()
    with Session(env.engine) as session:
        transactions.create(session, user, [item])
        session.commit()
    wrote = time.perf_counter()
    result = get_kind(SUMMARY_KIND).run([ClaimedJob(user, 1)], _context(env))
    done = time.perf_counter()
    if result.ok != [user]:
        raise RuntimeError(f"the recompute failed: {result}")
    return wrote - started, done - wrote


def measure_history(
    env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> HistoryFigures:
    points: list[HistoryPoint] = []
    for rows in config.history_rows:
        users = user_ids(_users_at(rows), prefix=f"history{rows}")
        echo(f"history: {len(users)} users x {rows:,} transactions")
        load_ledger(env.database_url, users, rows, config.seed)
        drains, writes, recomputes = [], [], []
        _drain_seconds(env, users)  # warm-up: the first pass over these rows and cells
        for rep in range(config.repeat):
            drains.append(_drain_seconds(env, users))
            wrote, recomputed = _one_change(env, users[rep % len(users)], rep + 1)
            writes.append(wrote)
            recomputes.append(recomputed)
        seconds = median(drains)
        points.append(
            HistoryPoint(
                rows_per_user=rows,
                users=len(users),
                drain_users_per_second=len(users) / seconds,
                drain_ms_per_user=seconds * 1000 / len(users),
                change_write_ms=median(writes) * 1000,
                change_recompute_ms=median(recomputes) * 1000,
                samples_change_recompute_seconds=recomputes,
            )
        )
    smallest, largest = points[0], points[-1]
    return HistoryFigures(
        points=points,
        recompute_ratio_largest_to_smallest=ratio(
            largest["change_recompute_ms"], smallest["change_recompute_ms"]
        ),
        drain_ms_ratio_largest_to_smallest=ratio(
            largest["drain_ms_per_user"], smallest["drain_ms_per_user"]
        ),
    )
