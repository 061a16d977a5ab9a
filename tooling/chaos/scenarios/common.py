"""Steps several scenarios share: draining until the queue settles, and the final checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine

from tooling.chaos.env import ChaosEnv
from tooling.chaos.observe import (
    ClaimWatcher,
    check_audit,
    claims_held,
    count_duplicates,
    jobs_held,
)
from tooling.chaos.procs import ProcessPool, Timeout, wait_for_clock
from tooling.chaos.result import ScenarioResult
from tooling.chaos.truth import check_queue, check_summaries, queue_state, user_states
from tooling.chaos.writers import WriteLog, check_writes

DrainRun = Callable[[], dict[str, Any]]


def process_drain(pool: ProcessPool, *args: str, timeout: float = 120.0) -> DrainRun:
    """One `scripts/drain.py` run to completion per call; returns its figures."""

    def run() -> dict[str, Any]:
        return pool.run(*args, timeout=timeout).stats()

    return run


def queue_settled(env: ChaosEnv, engine: Engine, sweep: bool, dead: Iterable[str] = ()) -> bool:
    """Nothing pending, leased or retrying (and, with `sweep`, no dirty user but `dead`)."""
    state = queue_state(env)
    if state.pending or state.claims or state.retry:
        return False
    if not sweep:
        return True
    skip = set(dead)
    return not any(s.dirty for u, s in user_states(engine).items() if u not in skip)


def next_ready(env: ChaosEnv) -> float:
    """When something becomes claimable: now if ids are pending, else the first expiring lease
    or the first due retry (a drain started earlier would find nothing to do)."""
    state = queue_state(env)
    if state.pending:
        return 0.0
    times = [claim["deadline"] / 1000 for claim in state.claims.values()]
    times += [due / 1000 for due in state.retry.values()]
    return min(times, default=0.0)


def drain_until_settled(
    env: ChaosEnv,
    engine: Engine,
    drain: DrainRun,
    *,
    timeout: float,
    sweep: bool = False,
    dead: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Run drains until the queue is empty (and, with `sweep`, no user is dirty any more).

    `sweep` is for scenarios whose reconcile grace is short: dirty users that nothing queues
    are the sweep's to find, so the loop keeps draining until they are clean.
    """
    dead_ids = set(dead)
    deadline = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while not queue_settled(env, engine, sweep, dead_ids):
        if time.monotonic() > deadline:
            raise Timeout(f"the queue did not settle within {timeout:.0f}s")
        ready = next_ready(env)
        if ready > time.time():
            wait_for_clock(ready, timeout, "a lease or retry to fall due")
        runs.append(drain())
    return runs


def verify(
    result: ScenarioResult,
    env: ChaosEnv,
    engine: Engine,
    *,
    lease_seconds: float,
    watcher: ClaimWatcher | None = None,
    log: WriteLog | None = None,
    dead: Iterable[str] = (),
    audit: bool = True,
) -> None:
    """Everything a scenario must end with: current summaries, an explained queue, no
    duplicate delivery, no stale overwrite and (when the API wrote) no lost write."""
    check_summaries(result, engine)
    check_queue(result, env, engine, expect_dead=dead)
    if audit:
        check_audit(result, engine)
    if log is not None:
        check_writes(result, engine, log)
    duplicates = count_duplicates(result, jobs_held(engine, lease_seconds), log, "job rows")
    if watcher is not None:
        held = claims_held(watcher)
        duplicates += count_duplicates(result, held, log, "claims")
        result.details["claims_observed"] = len(watcher.claims)
    result.duplicated += duplicates


def job_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM background_jobs").scalar_one())


def sum_stat(runs: Iterable[dict[str, Any]], name: str) -> int:
    return sum(int(run.get(name) or 0) for run in runs)
