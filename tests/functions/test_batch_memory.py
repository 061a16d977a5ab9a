"""The job holds a bounded number of transactions, however long its users' histories are.

Measured with tracemalloc (allocations, not time: deterministic for the same data), on real
Postgres: the job's peak for users with a long history against the same users with a short
one. A job that holds every row of its batch grows with the history; one that streams them,
`DRAIN_MAX_BATCH_ROWS` at a time, into the per-user accumulators stays flat.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest
import sqlalchemy as sa

import functions.financial_summary.read as read_module
from core.drain.runner import DrainOptions, StopReason, run
from core.queue import ClaimedJob
from functions import get_kind
from tests.support import World

KIND = get_kind("financial-summary")


def _peak_bytes(world: World, users: list[str]) -> int:
    ctx = world.context()
    gc.collect()
    tracemalloc.start()
    try:
        result = KIND.run([ClaimedJob(u, 1) for u in users], ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sorted(result.ok) == sorted(users)
    return peak


def test_peak_memory_does_not_grow_with_the_history(world: World) -> None:
    world.settings = world.settings.model_copy(update={"drain_max_batch_rows": 500})
    short = world.seed(users=8, per_user=100, seed=1, enqueue=False)
    long = world.seed(users=8, per_user=2_000, seed=2, enqueue=False)
    _peak_bytes(world, short)  # warm: compiled statements, caches
    peak_short = _peak_bytes(world, short)
    peak_long = _peak_bytes(world, long)
    # 16,000 rows held at once would be several MB; streaming keeps the long histories within
    # a small factor of the short ones (the accumulators grow a little with distinct months).
    assert peak_long < 1.5 * peak_short, (peak_short, peak_long)


def test_users_with_no_transactions_and_many_are_both_summarised(world: World) -> None:
    world.settings = world.settings.model_copy(update={"drain_max_batch_rows": 100})
    many = world.seed(users=3, per_user=450, seed=3, enqueue=False)
    none = world.seed(users=2, per_user=0, seed=4, enqueue=False)
    result = KIND.run([ClaimedJob(u, 1) for u in [*many, *none]], world.context())
    assert sorted(result.ok) == sorted([*many, *none])
    counts = dict(
        world.rows(
            "SELECT user_id, sum(transaction_count) FROM financial_summaries GROUP BY user_id"
        )
    )
    assert {u: counts[u] for u in many} == {u: 450 for u in many}
    assert not [u for u in none if u in counts]


def test_the_database_failing_mid_stream_is_no_users_failure(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows arrive while users are computed: a connection lost half-way through must release
    # the batch like any database outage, not fail the user whose rows were streaming.
    world.settings = world.settings.model_copy(update={"drain_max_batch_rows": 100})
    world.seed(users=4, per_user=300)
    real = read_module._cell
    seen = 0

    def flaky(row: Any) -> Any:
        nonlocal seen
        seen += 1
        if seen == 150:
            raise sa.exc.OperationalError("FETCH", {}, Exception("server closed the connection"))
        return real(row)

    monkeypatch.setattr(read_module, "_cell", flaky)
    stats = run(KIND, "test", DrainOptions(batch_size=4), world.settings)
    assert (stats.claimed, stats.released, stats.retried) == (4, 4, 0)
    assert stats.stop_reason is StopReason.ERROR
    assert world.queue.stats().pending == 4
