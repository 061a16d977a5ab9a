"""The financial-summary job end to end: real Postgres, real Redis behind upstash_local."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

import functions.financial_summary as job_module
import functions.financial_summary.read as read_module
from core.drain.runner import DrainOptions, StopReason, drain, run
from core.queue import ClaimedJob
from core.summary.cells import summaries_from_rows
from core.writes import transactions
from core.writes.ledger import NewTransaction, add_transactions
from functions import get_kind
from tests.conftest import UpstashHandle
from tests.support import QueryCounter, World

KIND = get_kind("financial-summary")


def month_range(first: dt.date, last: dt.date) -> list[str]:
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def independent(rows: list[NewTransaction]) -> dict[str, dict[str, Any]]:
    """The figures computed the plain way, with no code shared with the product."""
    out: dict[str, dict[str, Any]] = {}
    for currency in sorted({r.currency for r in rows}):
        mine = [r for r in rows if r.currency == currency]
        income = sum(r.amount_minor for r in mine if r.amount_minor > 0)
        expenses = -sum(r.amount_minor for r in mine if r.amount_minor < 0)
        first, last = min(r.date for r in mine), max(r.date for r in mine)
        monthly: dict[str, list[int]] = {m: [0, 0, 0] for m in month_range(first, last)}
        categories: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for r in mine:
            month = monthly[r.date.strftime("%Y-%m")]
            cat = categories[r.category or "Uncategorized"]
            for bucket in (month, cat):
                bucket[0 if r.amount_minor > 0 else 1] += abs(r.amount_minor)
                bucket[2] += 1
        out[currency] = {
            "income_minor": income,
            "expenses_minor": expenses,
            "net_minor": income - expenses,
            "transaction_count": len(mine),
            "first_date": first.isoformat(),
            "last_date": last.isoformat(),
            "monthly": {m: tuple(v) for m, v in monthly.items()},
            "by_category": {c: tuple(v) for c, v in categories.items()},
        }
    return out


def stored(world: World, user_id: str) -> dict[str, dict[str, Any]]:
    rows = world.rows(
        "SELECT currency, income_minor, expenses_minor, net_minor, transaction_count, "
        "first_date, last_date, figures FROM financial_summaries WHERE user_id = :u",
        u=user_id,
    )
    out = {}
    for currency, income, expenses, net, count, first, last, figures in rows:
        assert figures["income_minor"] == income
        out[currency] = {
            "income_minor": income,
            "expenses_minor": expenses,
            "net_minor": net,
            "transaction_count": count,
            "first_date": first.isoformat(),
            "last_date": last.isoformat(),
            "monthly": {
                m["month"]: (m["income_minor"], m["expenses_minor"], m["count"])
                for m in figures["monthly"]
            },
            "by_category": {
                c["category"]: (c["income_minor"], c["expenses_minor"], c["count"])
                for c in figures["by_category"]
            },
        }
    return out


def drain_all(batch_size: int = 25, trigger: str = "test") -> Any:
    return run(KIND, trigger, DrainOptions(batch_size=batch_size))


def test_drain_computes_every_figure_like_an_independent_computation(world: World) -> None:
    users = world.seed(users=12, per_user=80)
    stats = drain_all(batch_size=5)
    assert stats.stop_reason is StopReason.EMPTY
    assert (stats.claimed, stats.succeeded, stats.failed) == (12, 12, 0)
    for uid in users:
        expected = independent(world.expected[uid])
        assert len(expected) >= 2  # really multi-currency
        assert stored(world, uid) == expected, uid
        months = stored(world, uid)["USD"]["monthly"]
        assert any(v == (0, 0, 0) for v in months.values())  # empty months are present
    versions = world.rows("SELECT data_version, summary_version, summary_dirty_since FROM users")
    assert all(d == s and dirty is None for d, s, dirty in versions)
    jobs = world.rows("SELECT status, attempt, trigger, run_id, changed FROM background_jobs")
    assert len(jobs) == 12
    assert {(s, a, t, c) for s, a, t, _, c in jobs} == {("succeeded", 1, "test", True)}
    assert {r for _, _, _, r, _ in jobs} == {stats.run_id}
    assert world.scalar("SELECT count(*) FROM notifications") == 12
    run_row = world.rows("SELECT claimed, succeeded, stop_reason FROM drain_runs")
    assert run_row == [(12, 12, "empty")]


def test_rerun_without_changes_notifies_nobody(world: World) -> None:
    users = world.seed(users=3, per_user=10)
    drain_all()
    world.queue.enqueue(*users)
    stats = drain_all()
    assert stats.succeeded == 3
    assert stats.changed == 0
    assert world.scalar("SELECT count(*) FROM notifications") == 3
    assert world.scalar("SELECT count(*) FROM background_jobs WHERE changed") == 3


def test_deleting_every_transaction_of_a_currency_removes_its_summary(world: World) -> None:
    (uid,) = world.seed(users=1, per_user=30)
    drain_all()
    with Session(world.engine) as session:
        for (txn_id,) in session.execute(
            sa.text("SELECT id FROM transactions WHERE currency = 'JPY'")
        ):
            transactions.delete(session, uid, int(txn_id))
        session.commit()
    world.queue.enqueue(uid)
    drain_all()
    assert "JPY" not in stored(world, uid)
    remaining = [r for r in world.expected[uid] if r.currency != "JPY"]
    assert stored(world, uid) == independent(remaining)


def test_unknown_user_is_dead_lettered_with_a_clear_error(world: World) -> None:
    world.seed(users=2, per_user=5)
    world.queue.enqueue("nobody-by-this-id")
    stats = drain_all()
    assert (stats.succeeded, stats.dead) == (2, 1)
    (letter,) = world.queue.dead_letters()
    assert letter.id == "nobody-by-this-id"
    assert "no such user" in letter.error
    status = world.scalar("SELECT status FROM background_jobs WHERE user_id = 'nobody-by-this-id'")
    assert status == "dead"


def test_one_failing_user_does_not_fail_the_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = world.seed(users=4, per_user=5)
    poison = users[1]

    def compute(cells: Any, previous: Any) -> Any:
        cells = list(cells)
        if any(cell[4] == "Poison" for cell in cells):
            raise ValueError("cannot summarise this user")
        return summaries_from_rows(cells, previous)

    with Session(world.engine) as session:
        row = NewTransaction(dt.date(2025, 1, 2), -100, "USD", "POISON")
        add_transactions(session, poison, [row])
        session.commit()
    monkeypatch.setattr(job_module, "summaries_from_rows", compute)
    stats = drain_all(batch_size=10)
    assert (stats.succeeded, stats.retried) == (3, 1)
    failed = world.rows("SELECT status, error FROM background_jobs WHERE user_id = :u", u=poison)
    assert failed[0][0] == "failed"
    assert "cannot summarise" in failed[0][1]
    assert world.queue.stats().retrying == 1
    dirty = world.scalar("SELECT summary_dirty_since FROM users WHERE id = :u", u=poison)
    assert dirty is not None


def test_version_guard_when_two_computations_finish_out_of_order(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (uid,) = world.seed(users=1, per_user=5, enqueue=False)
    old_started, release_old = threading.Event(), threading.Event()
    calls: list[int] = []

    def compute(cells: Any, previous: Any) -> Any:
        cells = list(cells)  # read its data
        calls.append(1)
        if len(calls) == 1:  # the first (older) computation stalls after reading its data
            old_started.set()
            assert release_old.wait(20)
        return summaries_from_rows(cells, previous)

    monkeypatch.setattr(job_module, "summaries_from_rows", compute)
    job = ClaimedJob(uid, 1)
    old = threading.Thread(target=KIND.run, args=([job], world.context("old")))
    old.start()
    assert old_started.wait(20)
    with Session(world.engine) as session:  # the user adds a transaction meanwhile
        add_transactions(session, uid, [NewTransaction(dt.date(2025, 2, 1), 777_00, "USD")])
        session.commit()
    KIND.run([job], world.context("new"))  # the newer computation finishes first
    release_old.set()
    old.join(20)
    expected = independent(
        world.expected[uid] + [NewTransaction(dt.date(2025, 2, 1), 777_00, "USD")]
    )
    assert stored(world, uid) == expected
    versions = world.rows("SELECT data_version, summary_version, summary_dirty_since FROM users")
    assert versions == [(2, 2, None)]


def test_computation_overtaken_by_a_write_keeps_the_user_dirty(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (uid,) = world.seed(users=1, per_user=5, enqueue=False)

    def compute(cells: Any, previous: Any) -> Any:
        cells = list(cells)
        with Session(world.engine) as session:  # a write lands while we compute
            add_transactions(session, uid, [NewTransaction(dt.date(2025, 3, 1), -5, "USD")])
            session.commit()
        return summaries_from_rows(cells, previous)

    monkeypatch.setattr(job_module, "summaries_from_rows", compute)
    KIND.run([ClaimedJob(uid, 1)], world.context())
    (data_version, summary_version, dirty) = world.rows(
        "SELECT data_version, summary_version, summary_dirty_since FROM users"
    )[0]
    assert (data_version, summary_version) == (2, 1)
    assert dirty is not None  # the sweep (or the pending enqueue) will redo it


@pytest.mark.parametrize("batch", [1, 7, 40])
def test_sql_queries_per_batch_do_not_grow_with_batch_size(
    world: World, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = world.seed(users=batch, per_user=6, enqueue=False)
    counter = QueryCounter(world.engine, monkeypatch)
    result = KIND.run([ClaimedJob(u, 1) for u in users], world.context())
    assert len(result.ok) == batch
    # versions, stored summaries, last month's rows, rollup cells, lock, guard, delete, then
    # three COPYs: summaries, jobs, notifications
    assert counter.count == 10
    assert counter.copies == 3


def test_upstash_requests_per_batch_are_fixed(world: World, upstash: UpstashHandle) -> None:
    world.seed(users=60, per_user=3)
    drain_all(batch_size=5)  # warm the script cache
    per_batch = {}
    for size in (5, 20):
        world.seed(users=60, per_user=1, seed=size)
        before = upstash.stats()["requests"]
        stats = drain_all(batch_size=size)
        batches = -(-60 // size)
        assert stats.claimed == 60
        # reap + (claim + settle) per batch + the claim that finds the queue empty
        per_batch[size] = (upstash.stats()["requests"] - before - 2) / batches
    assert per_batch == {5: 2.0, 20: 2.0}


def test_reconcile_sweep_picks_up_users_whose_enqueue_was_lost(
    world: World, env: pytest.MonkeyPatch
) -> None:
    users = world.seed(users=5, per_user=4, enqueue=False)
    settings = world.settings.model_copy(update={"reconcile_grace_seconds": 0})
    stats = run(KIND, "test", DrainOptions(), settings=settings)
    assert stats.reconciled == 5
    assert stats.succeeded == 5
    for uid in users:
        assert stored(world, uid) == independent(world.expected[uid])


def test_deadline_cuts_a_backlog_and_loses_nothing(world: World) -> None:
    users = world.seed(users=80, per_user=2)
    ctx_calls = 0

    def context(run_id: str) -> Any:
        nonlocal ctx_calls
        ctx_calls += 1
        return world.context(run_id)

    stats = drain(KIND, world.queue, context, DrainOptions(budget_seconds=0.0001, batch_size=10))
    assert stats.stop_reason is StopReason.DEADLINE
    assert stats.claimed == 0
    assert stats.remaining == 80
    total = 0
    while True:
        s = drain(KIND, world.queue, context, DrainOptions(max_jobs=15, batch_size=10))
        total += s.claimed
        if s.stop_reason is StopReason.EMPTY:
            break
        assert s.stop_reason is StopReason.MAX_JOBS
        assert s.claimed == 15
    assert total == 80
    queue = world.queue.stats()
    assert (queue.pending, queue.leased) == (0, 0)
    assert world.scalar("SELECT count(*) FROM users WHERE summary_dirty_since IS NULL") == len(
        users
    )


def test_totals_beyond_the_64_bit_columns_fail_that_user_alone(world: World) -> None:
    # Found by tests/tooling/chaos (poison scenario): ten of the largest CLF amounts the API
    # accepts add up past 2^63 minor units, and storing them failed the whole batch.
    users = world.seed(users=3, per_user=5)
    poison = users[1]
    with Session(world.engine) as session:
        row = NewTransaction(dt.date(2025, 1, 2), 10**18 - 1, "CLF", "Huge")
        add_transactions(session, poison, [row] * 10)
        session.commit()

    stats = drain_all(batch_size=10)

    assert (stats.succeeded, stats.retried) == (2, 1)
    (status, error) = world.rows(
        "SELECT status, error FROM background_jobs WHERE user_id = :u", u=poison
    )[0]
    assert status == "failed"
    assert "CLF income_minor" in error
    assert "out of range" in error


def test_a_batch_that_fails_as_a_whole_stops_the_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by tests/tooling/chaos (PostgreSQL restart): with the database down, the run went on
    # claiming batch after batch, each failing at once and using up one attempt of every user.
    world.seed(users=12, per_user=2)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(job_module, "read_versions", down)
    stats = drain_all(batch_size=4)

    # An unreachable database is nobody's failure: the batch goes back, no attempt counted.
    assert (stats.claimed, stats.released, stats.retried) == (4, 4, 0)
    assert stats.stop_reason is StopReason.ERROR
    assert stats.error is not None
    assert "OperationalError" in stats.error
    assert world.queue.stats().pending == 12


def test_a_batch_that_raises_a_bug_fails_and_stops_the_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Anything else raised for the whole batch is the job's failure: retried with backoff.
    world.seed(users=12, per_user=2)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(job_module, "read_versions", broken)
    stats = drain_all(batch_size=4)

    assert (stats.claimed, stats.retried, stats.stop_reason) == (4, 4, StopReason.ERROR)
    assert world.queue.stats().pending == 8  # the others keep their attempts


def test_a_lost_settle_is_sent_again_rather_than_left_to_expire(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by tests/tooling/chaos (Upstash faults): a settle that failed once left its claim
    # leased until the lease expired, and each expiry cost every id of the batch an attempt.
    from core.queue import JobQueue, QueueError

    world.seed(users=3, per_user=2)
    real_settle = JobQueue.settle
    calls: list[int] = []

    def flaky(self: JobQueue, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        result = real_settle(self, *args, **kwargs)
        if len(calls) == 1:
            raise QueueError("response lost after the command ran")
        return result

    monkeypatch.setattr(JobQueue, "settle", flaky)
    stats = drain_all(batch_size=10)

    assert (stats.succeeded, stats.stop_reason, len(calls)) == (3, StopReason.EMPTY, 2)
    assert world.queue.stats().leased == 0
    assert world.queue.dead_letters() == []


def test_a_job_alone_in_its_batch_records_the_batch_s_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """duration_ms is the job's own computation plus its share of the batch's reads and writes:
    a user alone in a batch that took 7 ms took 7 ms, not the computation's fraction of one."""
    (uid,) = world.seed(users=1, per_user=2, enqueue=False)
    read_versions = read_module.read_versions

    def slow_read(session: Any, batch: Any) -> None:
        time.sleep(0.007)
        read_versions(session, batch)

    monkeypatch.setattr(job_module, "read_versions", slow_read)
    KIND.run([ClaimedJob(uid, 1)], world.context())
    ((ms, started, finished),) = world.rows(
        "SELECT duration_ms, started_at, finished_at FROM background_jobs"
    )
    assert ms >= 7, ms
    assert ms <= (finished - started).total_seconds() * 1000 + 1


def test_a_computed_job_is_never_0_ms(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounded up to whole milliseconds: even a clock that did not move records 1 ms."""
    users = world.seed(users=3, per_user=2, enqueue=False)
    monkeypatch.setattr(time, "perf_counter", lambda: 1000.0)
    KIND.run([ClaimedJob(u, 1) for u in users], world.context())
    durations = world.rows("SELECT duration_ms FROM background_jobs")
    assert sorted(ms for (ms,) in durations) == [1, 1, 1]


def test_the_jobs_of_a_batch_add_up_to_the_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = world.seed(users=3, per_user=3, enqueue=False)
    real = summaries_from_rows
    sleeps = iter([0.007, 0.0, 0.0])

    def sleepy(cells: Any, previous: Any) -> Any:
        rows = list(cells)
        time.sleep(next(sleeps))
        return real(rows, previous)

    monkeypatch.setattr(job_module, "summaries_from_rows", sleepy)
    KIND.run([ClaimedJob(u, 1) for u in users], world.context())
    rows = world.rows("SELECT duration_ms, started_at, finished_at FROM background_jobs")
    durations = [ms for ms, _, _ in rows]
    assert min(durations) >= 1, durations
    assert max(durations) >= 7, durations
    batch_ms = max((f - s).total_seconds() * 1000 for _, s, f in rows)
    # Each rounded up by less than 1 ms, and no share counted twice.
    assert sum(durations) <= batch_ms + len(durations), (durations, batch_ms)
