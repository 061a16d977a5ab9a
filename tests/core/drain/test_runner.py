"""The drain's deadline inside a batch, leases sized from the budget, and outages that cost no
attempt: real Postgres and real Redis behind upstash_local.

Where a test needs time to pass it uses a clock of its own (`JobContext.monotonic`) that moves
only when the computation says so: nothing here depends on how fast this machine is.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

import functions.financial_summary as job_module
from core.base.db import make_engine
from core.drain.kinds import JobContext
from core.drain.runner import LEASE_GRACE_SECONDS, DrainOptions, DrainStats, StopReason, drain
from core.summary.cells import PreviousToDate, summaries_from_rows
from core.summary.totals import CellRow
from core.writes.ledger import NewTransaction, add_transactions
from functions import get_kind
from tests.conftest import UpstashHandle
from tests.support import World

KIND = get_kind("financial-summary")


class Clock:
    """Monotonic time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_drain(
    world: World, opts: DrainOptions, clock: Clock | None = None, engine: Any = None
) -> DrainStats:
    def context(run_id: str) -> JobContext:
        ctx = world.context(run_id)
        if engine is not None:
            ctx = replace(ctx, engine=engine)
        return replace(ctx, monotonic=clock) if clock is not None else ctx

    return drain(KIND, world.queue, context, opts)


def slow_computation(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, seconds_per_txn: float
) -> list[int]:
    """Each rollup cell the summary reads moves the clock on (`seed` gives every transaction a
    cell of its own); returns the users' cell counts."""
    seen: list[int] = []

    def compute(cells: Iterable[CellRow], previous: PreviousToDate) -> Any:
        rows = []
        for cell in cells:
            clock.now += seconds_per_txn
            rows.append(cell)
        seen.append(len(rows))
        return summaries_from_rows(rows, previous)

    monkeypatch.setattr(job_module, "summaries_from_rows", compute)
    return seen


def _merchant(i: int) -> str:
    """A merchant name of its own for each i (letters only: trailing numbers are noise)."""
    letters = ""
    while True:
        letters += "abcdefghijklmnopqrstuvwxyz"[i % 26]
        i //= 26
        if not i:
            return f"Shop {letters}"


def attempts(upstash: UpstashHandle, ids: Iterable[str]) -> dict[str, int]:
    """The attempts the queue has counted per id (0 when it keeps no record)."""
    key = f"{upstash.prefix}:financial-summary:jobs"
    records = {i: upstash.raw.hget(key, i) for i in ids}
    return {i: int(json.loads(r)["attempts"]) if r else 0 for i, r in records.items()}


def seed(world: World, counts: list[int], tag: str) -> list[str]:
    """One user per count, with that many transactions, enqueued in this order."""
    ids = [f"{tag}-{i}" for i in range(len(counts))]
    with Session(world.engine) as session:
        for uid, count in zip(ids, counts, strict=True):
            rows = [
                NewTransaction(dt.date(2025, 1, 1 + i % 28), -100 - i, "USD", _merchant(i))
                for i in range(count)
            ]
            add_transactions(session, uid, rows)
        session.commit()
    world.queue.enqueue(*ids)
    return ids


def job_rows(world: World) -> list[tuple[str, str, int]]:
    rows = world.rows("SELECT user_id, status, attempt FROM background_jobs ORDER BY id")
    return [(str(u), str(s), int(a)) for u, s, a in rows]


# --- the deadline inside a batch -------------------------------------------------------------


def test_the_deadline_inside_a_batch_settles_what_is_done_and_releases_the_rest(
    world: World, upstash: UpstashHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by an adversarial pass: the deadline was only checked between batches, and one
    # batch ran 212 s past a 25 s budget. Six users of 100 rows, one second each; a budget of
    # 4.5 s leaves 3.5 s for the batch (1 s is kept for settling): four users get done.
    clock = Clock()
    users = seed(world, [100] * 6, "u")
    slow_computation(monkeypatch, clock, seconds_per_txn=0.01)

    stats = run_drain(world, DrainOptions(budget_seconds=4.5, batch_size=6), clock)

    assert (stats.claimed, stats.succeeded, stats.released) == (6, 4, 2)
    assert (stats.failed, stats.stop_reason) == (0, StopReason.DEADLINE)
    assert job_rows(world) == [(u, "succeeded", 1) for u in users[:4]]
    queue = world.queue.stats()
    assert (queue.pending, queue.leased, queue.retrying) == (2, 0, 0)
    # The released users' attempt was given back: they start again from nothing.
    assert attempts(upstash, users[4:]) == {u: 0 for u in users[4:]}

    stats = run_drain(world, DrainOptions(budget_seconds=4.5, batch_size=6), clock)
    assert (stats.claimed, stats.succeeded, stats.stop_reason) == (2, 2, StopReason.EMPTY)
    assert job_rows(world)[4:] == [(u, "succeeded", 1) for u in users[4:]]


def test_a_user_over_its_share_fails_alone_and_costs_its_batch_mates_nothing(
    world: World, upstash: UpstashHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget of 10 s: one user may use 5 s (half). The heavy user needs 20 s.
    clock = Clock()
    heavy, *light = seed(world, [2000, 10, 10, 10], "h")
    slow_computation(monkeypatch, clock, seconds_per_txn=0.01)

    stats = run_drain(world, DrainOptions(budget_seconds=10, batch_size=4), clock)

    assert (stats.claimed, stats.succeeded, stats.retried, stats.released) == (4, 3, 1, 0)
    assert job_rows(world) == [(heavy, "failed", 1)] + [(u, "succeeded", 1) for u in light]
    error = world.scalar("SELECT error FROM background_jobs WHERE user_id = :u", u=heavy)
    assert error.startswith("the summary took longer than its share of the drain's budget (5.0s)")
    assert "stopped after" in error
    assert attempts(upstash, [heavy]) == {heavy: 1}
    assert world.queue.stats().retrying == 1


def test_a_heavy_user_cut_short_by_the_deadline_is_released_then_gets_its_full_share(
    world: World, upstash: UpstashHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Third in its batch, the heavy user starts with less than its share left: the deadline
    # stops it, which is not its fault. Released to the front, it comes first in the next run,
    # has its whole share, and only then fails.
    clock = Clock()
    first, second, heavy, last = seed(world, [300, 300, 2000, 10], "d")
    slow_computation(monkeypatch, clock, seconds_per_txn=0.01)
    opts = DrainOptions(budget_seconds=10, batch_size=4)

    stats = run_drain(world, opts, clock)
    assert (stats.succeeded, stats.retried, stats.released) == (2, 0, 2)
    assert attempts(upstash, [heavy, last]) == {heavy: 0, last: 0}

    stats = run_drain(world, opts, clock)
    assert (stats.claimed, stats.succeeded, stats.retried) == (2, 1, 1)
    assert job_rows(world) == [
        (first, "succeeded", 1),
        (second, "succeeded", 1),
        (heavy, "failed", 1),
        (last, "succeeded", 1),
    ]


def test_hostile_descriptions_do_not_hold_up_their_batch(world: World) -> None:
    # Found by an adversarial pass: one 500-character description of x, * or # made the next
    # cron call take 196 s, and the platform killed it every time until the innocent users of
    # its batch were dead-lettered. With a budget of 20 s, the whole batch finishes.
    hostile = ["x" * 500, "*" * 500, "#" * 500, "x* " * 166, "#-" * 249 + "12"]
    with Session(world.engine) as session:
        for i, text in enumerate(hostile):
            add_transactions(
                session, f"hostile-{i}", [NewTransaction(dt.date(2025, 1, 2), -1, "USD", text)]
            )
        session.commit()
    normal = world.seed(users=5, per_user=20, enqueue=False)
    world.queue.enqueue(*[f"hostile-{i}" for i in range(len(hostile))], *normal)

    stats = run_drain(world, DrainOptions(budget_seconds=20, batch_size=10))

    assert (stats.claimed, stats.succeeded, stats.stop_reason) == (10, 10, StopReason.EMPTY)


def test_leases_last_the_run_s_budget_and_the_grace_not_lease_seconds(
    world: World, upstash: UpstashHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run killed by the platform leaves its claim behind; with LEASE_SECONDS (120 s) its users
    # waited for the tick after next. Sized from the budget, they come back at the next one.
    world.seed(users=2, per_user=3)
    deadlines: list[float] = []
    real_run: Callable[..., Any] = KIND.run

    def watch(jobs: Any, ctx: JobContext) -> Any:
        claims = upstash.raw.hgetall(f"{upstash.prefix}:financial-summary:claims")
        deadlines.extend(json.loads(v)["deadline"] / 1000 for v in claims.values())
        return real_run(jobs, ctx)

    monkeypatch.setattr(KIND, "run", watch)
    started = dt.datetime.now(dt.UTC).timestamp()
    run_drain(world, DrainOptions(budget_seconds=10))

    (deadline,) = deadlines
    assert world.settings.lease_seconds == 120
    assert started + 15 < deadline <= started + 10 + LEASE_GRACE_SECONDS + 1


# --- outages ---------------------------------------------------------------------------------


def test_a_drain_on_an_unmigrated_sqlite_file_costs_no_attempt(
    world: World, upstash: UpstashHandle, tmp_path: Any
) -> None:
    """Issue 17: a drain started where its SQLite file did not exist made an empty database,
    failed with `no such table: users` and burned a real user's attempt. That is the database's
    fault, not the user's: the batch is released and nobody's attempts move."""
    users = world.seed(users=3, per_user=2)
    empty = make_engine(f"sqlite:///{tmp_path / 'elsewhere' / 'tally.db'}", world.settings)
    stats = run_drain(world, DrainOptions(batch_size=3), engine=empty)
    assert (stats.claimed, stats.released, stats.failed) == (3, 3, 0)
    assert stats.stop_reason is StopReason.ERROR
    assert stats.error is not None
    assert "no such table" in stats.error
    assert attempts(upstash, users) == {u: 0 for u in users}
    assert world.queue.stats().pending == 3


def test_a_database_outage_costs_no_attempt_and_stops_each_run(
    world: World, upstash: UpstashHandle, env: pytest.MonkeyPatch
) -> None:
    # Found by an adversarial pass: each tick during a database outage counted an attempt for
    # every user of its batch, and after MAX_ATTEMPTS ticks (~45 min) they were dead. Here the
    # database really is unreachable (nothing listens on port 1), retries fall due at once,
    # and seven ticks pass: more than MAX_ATTEMPTS.
    users = world.seed(users=8, per_user=3)
    world.settings = world.settings.model_copy(update={"retry_base_seconds": 0.0})
    world.queue.settings = world.settings
    down = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/tally", world.settings)

    for _ in range(world.settings.max_attempts + 2):
        stats = run_drain(world, DrainOptions(batch_size=4), engine=down)
        assert (stats.claimed, stats.released, stats.failed) == (4, 4, 0)
        assert stats.stop_reason is StopReason.ERROR
        assert stats.error is not None
        assert "OperationalError" in stats.error

    queue = world.queue.stats()
    assert (queue.pending, queue.dead, queue.retrying, queue.leased) == (8, 0, 0, 0)
    assert attempts(upstash, users) == {u: 0 for u in users}

    stats = run_drain(world, DrainOptions(batch_size=4))  # the database is back
    assert (stats.succeeded, stats.stop_reason) == (8, StopReason.EMPTY)
    assert {(s, a) for _, s, a in job_rows(world)} == {("succeeded", 1)}


def test_a_write_that_times_out_on_a_lock_releases_the_batch(
    world: World, upstash: UpstashHandle
) -> None:
    # Under a deadline the write waits WRITE_LOCK_WAIT_SECONDS for rows another transaction
    # holds, then gives the batch back rather than overrunning: nobody's attempt is used.
    users = world.seed(users=3, per_user=3)
    with world.engine.connect() as other, other.begin():
        other.execute(sa.text("SELECT id FROM users FOR UPDATE"))
        stats = run_drain(world, DrainOptions(budget_seconds=20, batch_size=3))
    assert (stats.claimed, stats.released, stats.failed) == (3, 3, 0)
    assert stats.stop_reason is StopReason.ERROR
    assert stats.error is not None
    assert "lock timeout" in stats.error
    assert attempts(upstash, users) == {u: 0 for u in users}
    assert world.scalar("SELECT count(*) FROM background_jobs") == 0


# --- the run's log line ----------------------------------------------------------------------


def test_each_run_logs_one_line_with_its_figures(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.seed(users=3, per_user=2)

    with caplog.at_level(logging.INFO, logger="tally.drain"):
        stats = run_drain(world, DrainOptions(batch_size=2))

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("drain run ")]
    assert len(lines) == 1, lines
    for figure in (
        f"run={stats.run_id}",
        "claimed=3",
        "ok=3",
        "failed=0",
        "retried=0",
        "dead=0",
        "released=0",
        "reclaimed=0",
        "reconciled=0",
        "batches=2",
        "remaining=0",
        "stop=empty",
        "elapsed=",
        "error=none",
    ):
        assert figure in lines[0], (figure, lines[0])
