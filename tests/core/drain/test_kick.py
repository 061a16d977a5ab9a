"""The after-response kick: one named user claimed, computed, re-checked and settled.

Real Postgres and real Redis behind upstash_local, through the same job kind the drain runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlmodel import Session

import core.drain.kick as kick_module
from core.drain.kick import KickOutcome, kick
from core.drain.kinds import BatchResult, JobContext
from core.queue import ClaimedJob
from core.writes.ledger import NewTransaction, add_transactions
from functions import get_kind
from tests.conftest import UpstashHandle
from tests.support import World

KIND = get_kind("financial-summary")


def write(world: World, user_id: str, amount: int, enqueue: bool = True) -> None:
    with Session(world.engine) as session:
        add_transactions(
            session, user_id, [NewTransaction(dt.date(2026, 1, 5), amount, "USD", "x")]
        )
        session.commit()
    if enqueue:
        world.queue.enqueue(user_id)


def versions(world: World, user_id: str) -> tuple[int, int]:
    row = world.rows("SELECT data_version, summary_version FROM users WHERE id = :id", id=user_id)
    return int(row[0][0]), int(row[0][1])


def net(world: World, user_id: str) -> int:
    return int(
        world.scalar(
            "SELECT net_minor FROM financial_summaries WHERE user_id = :id AND currency = 'USD'",
            id=user_id,
        )
    )


def kick_jobs(world: World, user_id: str) -> int:
    return int(
        world.scalar(
            "SELECT count(*) FROM background_jobs WHERE user_id = :id AND trigger = 'kick'",
            id=user_id,
        )
    )


def queue_empty(world: World, upstash: UpstashHandle) -> bool:
    keys = world.queue.keys
    return not any(upstash.raw.exists(k) for k in (keys.pending, keys.queued, keys.claims))


def test_a_pending_user_is_computed_and_settled(world: World, upstash: UpstashHandle) -> None:
    write(world, "u1", -500)
    result = kick(KIND, world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    assert result.outcome is KickOutcome.OK
    assert result.runs == 1
    data, done = versions(world, "u1")
    assert done == data
    assert net(world, "u1") == -500
    assert kick_jobs(world, "u1") == 1
    assert queue_empty(world, upstash)


def test_a_user_not_pending_is_left_alone(world: World) -> None:
    write(world, "u1", -500, enqueue=False)
    result = kick(KIND, world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    assert result.outcome is KickOutcome.NOT_CLAIMED
    assert kick_jobs(world, "u1") == 0


def test_a_user_another_drain_holds_is_left_alone(world: World, upstash: UpstashHandle) -> None:
    write(world, "u1", -500)
    held = world.queue.claim(10)
    write(world, "u1", -100)  # queued again while the drain computes
    result = kick(KIND, world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    assert result.outcome is KickOutcome.NOT_CLAIMED
    assert kick_jobs(world, "u1") == 0
    assert held.ids == ["u1"]
    assert upstash.raw.llen(world.queue.keys.pending) == 1


class WritesWhileComputing:
    """The real kind, with `writes` more writes landing during its first runs."""

    def __init__(self, world: World, writes: int) -> None:
        self.name = KIND.name
        self.world = world
        self.writes = writes
        self.runs = 0

    def run(self, jobs: Sequence[ClaimedJob], ctx: JobContext) -> BatchResult:
        result = KIND.run(jobs, ctx)
        self.runs += 1
        if self.writes:
            self.writes -= 1
            write(self.world, jobs[0].id, -1)
        return result

    def reconcile(self, ctx: JobContext, limit: int) -> list[str]:
        return KIND.reconcile(ctx, limit)

    def versions(self, ctx: JobContext, user_id: str) -> tuple[int, int] | None:
        return KIND.versions(ctx, user_id)  # type: ignore[attr-defined, no-any-return]


def test_a_write_during_the_computation_runs_it_once_more_before_settling(
    world: World, upstash: UpstashHandle
) -> None:
    write(world, "u1", -500)
    kind = WritesWhileComputing(world, writes=1)
    result = kick(kind, world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    assert result.outcome is KickOutcome.OK
    assert result.runs == 2
    data, done = versions(world, "u1")
    assert done == data  # the last write's figures, without a cron call
    assert net(world, "u1") == -501
    assert kick_jobs(world, "u1") == 2


def test_runs_are_bounded_even_when_writes_keep_coming(world: World) -> None:
    write(world, "u1", -500)
    kind = WritesWhileComputing(world, writes=100)
    result = kick(kind, world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    assert result.runs <= 3
    # The writes it did not catch are queued again: the next kick or the cron takes them.
    assert world.queue.stats().pending == 1


def test_an_already_fresh_summary_costs_no_computation(world: World) -> None:
    write(world, "u1", -500)
    claim = world.queue.claim(10)
    KIND.run(claim.jobs, world.context())
    world.queue.settle(claim, ok=claim.ids)
    world.queue.enqueue("u1")  # a stray enqueue: nothing changed since
    result = kick(KIND, world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    assert result.outcome is KickOutcome.OK
    assert result.runs == 0
    assert world.queue.stats().pending == 0


class Raising:
    name = KIND.name

    def run(self, jobs: Sequence[ClaimedJob], ctx: JobContext) -> BatchResult:
        raise RuntimeError("boom")

    def reconcile(self, ctx: JobContext, limit: int) -> list[str]:
        return []


def test_a_job_that_raises_is_that_users_failure_to_retry(world: World) -> None:
    write(world, "u1", -500)
    result = kick(Raising(), world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    assert result.outcome is KickOutcome.FAILED
    assert "boom" in (result.error or "")
    assert world.queue.stats().retrying == 1


def test_kicks_and_a_cron_drain_racing_on_one_user_never_store_an_older_summary(
    world: World,
) -> None:
    """Writes of -1 each: a summary labelled with data version v holds at least those v writes
    (the job reads the version before the rows, so it may hold more, never fewer)."""
    import threading

    from core.drain.runner import DrainOptions, drain

    write(world, "u1", -1)
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def guarded(target: Callable[[], object]) -> Callable[[], None]:
        def body() -> None:
            try:
                while not stop.is_set():
                    target()
            except BaseException as exc:  # a failed thread must fail the test
                errors.append(exc)
                stop.set()

        return body

    def kicker() -> None:
        kick(KIND, world.queue, "u1", world.settings, world.engine, budget_seconds=5)

    def cron() -> None:
        drain(KIND, world.queue, world.context, DrainOptions(budget_seconds=5, batch_size=10))

    def observe() -> None:
        rows = world.rows(
            "SELECT source_version, net_minor FROM financial_summaries WHERE user_id = 'u1'"
        )
        if rows:
            seen.append((int(rows[0][0]), int(rows[0][1])))

    threads = [threading.Thread(target=guarded(f)) for f in (kicker, kicker, cron, observe)]
    for thread in threads:
        thread.start()
    for _ in range(30):
        write(world, "u1", -1)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # Whatever is left is queued: one more kick (or cron) ends on the last write.
    kick(KIND, world.queue, "u1", world.settings, world.engine, budget_seconds=5)
    drain(KIND, world.queue, world.context, DrainOptions(budget_seconds=5))
    observe()
    assert all(-net >= version for version, net in seen), seen  # never behind its label
    versions_seen = [version for version, _ in seen]
    assert versions_seen == sorted(versions_seen)  # never an older summary over a newer one
    data, done = versions(world, "u1")
    assert done == data == 31
    assert net(world, "u1") == -31


def test_a_kick_finishing_after_a_newer_cron_drain_leaves_the_newer_summary(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving the version guard exists for, made certain: the kick computes version 1,
    a cron drain computes and stores version 2, then the kick's write arrives."""
    import threading

    import functions.financial_summary.store as store_module
    from core.drain.runner import DrainOptions, drain

    write(world, "u1", -1)
    computed, go_on = threading.Event(), threading.Event()
    original = store_module.write_batch

    def held_write(session: Any, batch: Any, ctx: JobContext, started: Any) -> Any:
        if ctx.trigger == "kick":
            computed.set()
            assert go_on.wait(30)
        return original(session, batch, ctx, started)

    monkeypatch.setattr(store_module, "write_batch", held_write)
    # One run: a second one would repair what a missing guard broke, and hide it.
    monkeypatch.setattr(kick_module, "MAX_RUNS", 1)
    results: list[Any] = []
    kicker = threading.Thread(
        target=lambda: results.append(
            kick(KIND, world.queue, "u1", world.settings, world.engine, budget_seconds=30)
        )
    )
    kicker.start()
    assert computed.wait(30)
    write(world, "u1", -1)  # version 2, queued again while the kick holds the user
    stats = drain(KIND, world.queue, world.context, DrainOptions(budget_seconds=10))
    assert stats.succeeded == 1
    assert versions(world, "u1") == (2, 2)
    go_on.set()
    kicker.join(timeout=30)
    assert results[0].outcome is KickOutcome.OK
    assert versions(world, "u1") == (2, 2)
    assert net(world, "u1") == -2  # the kick's older figures were not stored over them
