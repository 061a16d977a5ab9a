"""Scenario 1: drain processes killed with SIGKILL mid-work, at several points of a batch.

Kill points, in turn: right after the process starts; as soon as it holds a claim; with its
batch read and computed, waiting inside its write transaction (the scenario holds the users'
rows locked, so the drain blocks there and the kill lands before the commit for certain); after
its batch committed but before the settle request (Upstash latency holds that window open); and
during its second batch. The killed claims stay
leased until their lease passes; then other drains reap them and finish the work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy import Engine

from core.base.db import get_engine
from tooling.chaos.env import ChaosEnv, scoped_environ
from tooling.chaos.observe import ClaimWatcher, install_audit
from tooling.chaos.procs import DrainProcess, ProcessPool, Timeout, wait_for_clock, wait_until
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.common import (
    drain_until_settled,
    job_count,
    next_ready,
    process_drain,
    sum_stat,
    verify,
)
from tooling.chaos.seed import enqueue_all, seed_users, user_ids
from tooling.chaos.truth import queue_state

KILL_POINTS = ("startup", "claimed", "before_commit", "after_commit", "second_batch")
# The settle request of a "committed" kill is delayed this long: the window the kill aims at.
COMMIT_WINDOW_SECONDS = 0.5
EVENT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class KillSize:
    users: int = 40
    per_user: int = 1500
    kills: int = 5
    batch_size: int = 4
    lease_seconds: int = 2

    def __post_init__(self) -> None:
        # Each kill takes up to two batches out of the queue until its lease expires.
        if self.users < 2 * self.batch_size * 2:
            raise ValueError("kill needs at least 4 batches of users")


@dataclass
class _Kill:
    point: str
    at: float
    ids: set[str]


def _claims_now(env: ChaosEnv) -> set[str]:
    return set(queue_state(env).claims)


def _held_ids(env: ChaosEnv, claim_ids: set[str]) -> set[str]:
    claims = queue_state(env).claims
    return {str(job[0]) for cid in claim_ids if cid in claims for job in claims[cid]["jobs"]}


def blocked_in_write(engine: Engine) -> bool:
    """A session of this database waits for a row lock: the drain, in its write transaction."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'"
    )
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar_one())


def _committed(engine: Engine, env: ChaosEnv, claim_ids: set[str]) -> bool:
    claims = queue_state(env).claims
    for cid in claim_ids & set(claims):
        ids = [str(job[0]) for job in claims[cid]["jobs"]]
        since = claims[cid]["claimed"] / 1000
        query = sa.text(
            "SELECT count(*) FROM background_jobs WHERE user_id = ANY(:ids)"
            " AND started_at >= to_timestamp(:since)"
        )
        with engine.connect() as conn:
            if conn.execute(query, {"ids": ids, "since": since - 0.001}).scalar_one():
                return True
    return False


def _await_point(
    point: str, env: ChaosEnv, engine: Engine, process: DrainProcess, before: set[str]
) -> None:
    def new() -> set[str]:
        return _claims_now(env) - before

    def until(predicate: Callable[[], bool], what: str) -> None:
        def probe() -> bool:
            if not process.running:
                raise Timeout(f"{process.name} exited before {what}: {process.stderr[-500:]}")
            return predicate()

        wait_until(probe, EVENT_TIMEOUT_SECONDS, what)

    if point == "claimed":
        until(lambda: bool(new()), "a claim")
    elif point == "before_commit":
        until(lambda: bool(new()) and blocked_in_write(engine), "the write transaction to block")
    elif point == "after_commit":
        until(lambda: _committed(engine, env, new()), "a committed, unsettled batch")
    elif point == "second_batch":
        until(lambda: bool(new()), "a first claim")
        first = new()
        until(lambda: bool(new() - first), "a second claim")


@contextmanager
def _users_locked(engine: Engine, locked: bool) -> Iterator[None]:
    """Hold every user row FOR UPDATE: reads go on, the job's guarded write waits."""
    if not locked:
        yield
        return
    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.text("SELECT id FROM users FOR UPDATE"))
        try:
            yield
        finally:
            transaction.rollback()


def _kill_once(pool: ProcessPool, env: ChaosEnv, engine: Engine, point: str, batch: int) -> _Kill:
    # Earlier kills may hold every remaining id: a drain started now would find nothing.
    wait_for_clock(next_ready(env), EVENT_TIMEOUT_SECONDS, "work for the next drain")
    before = _claims_now(env)
    if point == "after_commit":
        env.upstash.set_faults(latency_seconds=COMMIT_WINDOW_SECONDS)
    try:
        with _users_locked(engine, point == "before_commit"):
            process = pool.start("--batch-size", str(batch))
            _await_point(point, env, engine, process, before)
            ids = _held_ids(env, _claims_now(env) - before)
            process.kill()
    finally:
        env.upstash.clear_faults()
    return _Kill(point, time.time(), ids)


def _finished_after(engine: Engine, kill: _Kill) -> set[str]:
    query = sa.text(
        "SELECT DISTINCT user_id FROM background_jobs WHERE status = 'succeeded'"
        " AND user_id = ANY(:ids) AND started_at > to_timestamp(:at)"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"ids": sorted(kill.ids), "at": kill.at})
        return {str(r[0]) for r in rows}


def run_kill(env: ChaosEnv, size: KillSize) -> ScenarioResult:
    result = ScenarioResult("kill")
    started = time.monotonic()
    tuning = {
        "LEASE_SECONDS": str(size.lease_seconds),
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_MAX_SECONDS": "1",
        # A reaped lease counts as an attempt; every kill may hit the same ids again.
        "MAX_ATTEMPTS": str(size.kills + 2),
        "RECONCILE_GRACE_SECONDS": "3600",  # the queue alone must recover, not the sweep
    }
    env = replace(env, tuning=tuning)
    with scoped_environ(env.settings_env()), ProcessPool(env.process_env()) as pool:
        engine = get_engine()
        install_audit(engine)
        ids = user_ids(size.users)
        seed_users(engine, ids, size.per_user)
        enqueue_all(ids)
        with ClaimWatcher(env) as watcher:
            kills = []
            for i in range(size.kills):
                point = KILL_POINTS[i % len(KILL_POINTS)]
                kills.append(_kill_once(pool, env, engine, point, size.batch_size))
            drain = process_drain(pool, "--batch-size", str(size.batch_size))
            try:
                runs = drain_until_settled(env, engine, drain, timeout=120)
            except Timeout as exc:
                result.problem(str(exc))
                runs = []
        verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher)
        for kill in kills:
            unfinished = kill.ids - _finished_after(engine, kill)
            result.lost += len(unfinished)
            result.problems.extend(
                f"killed at {kill.point}: {u} never finished" for u in unfinished
            )
        result.operations = job_count(engine) + len(pool.processes)
        result.faults_injected = sum(p.killed for p in pool.processes)
        result.details.update(
            users=size.users,
            transactions=size.users * size.per_user,
            kill_points=[k.point for k in kills],
            ids_in_killed_claims=sum(len(k.ids) for k in kills),
            reclaimed=sum_stat(runs, "reclaimed"),
            finishing_drains=len(runs),
        )
    result.seconds = time.monotonic() - started
    return result
