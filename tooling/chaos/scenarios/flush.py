"""Scenario 5: every queue key lost (a flushed or replaced Redis); the sweep alone recovers.

Before the flush the queue holds every kind of state: users pending, users retrying, a claim
held by a drain that will never settle, dead letters, and users whose enqueue never reached
Upstash. Then every key of the scenario's prefix is deleted (never FLUSHALL: the Redis is
shared). Nothing is enqueued afterwards: drains run with a short reconcile grace and a sweep
smaller than the backlog, so several runs of the reconcile sweep must find every dirty user.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.base.db import get_engine
from core.queue import Failure
from tooling.chaos.env import ChaosEnv, scoped_environ
from tooling.chaos.observe import ClaimWatcher, install_audit
from tooling.chaos.procs import ProcessPool, Timeout
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.common import drain_until_settled, job_count, process_drain, verify
from tooling.chaos.seed import enqueue_all, seed_users, summary_queue, user_ids
from tooling.chaos.truth import queue_state, user_states
from tooling.chaos.writers import run_writers


@dataclass(frozen=True)
class FlushSize:
    users: int = 60
    per_user: int = 20
    reconcile_batch: int = 15
    lease_seconds: int = 60


def _queue_in_every_state(env: ChaosEnv, ids: list[str], app_factory: Callable[[], Any]) -> None:
    """Pending, retrying, dead, leased (never settled) and never-enqueued users."""
    queue = summary_queue()
    enqueue_all(ids)
    retrying = queue.claim(5)
    queue.settle(retrying, failed=[Failure(i, "database hiccup") for i in retrying.ids])
    dead = queue.claim(3)
    queue.settle(dead, failed=[Failure(i, "gave up", permanent=True) for i in dead.ids])
    queue.claim(4)  # a drain that died holding these: its lease outlives the flush
    env.upstash.set_faults(error_rate=1.0)
    try:  # writes whose enqueue fails: committed, dirty, and unknown to the queue
        run_writers(app_factory, user_ids(6, "n"), 2, 6)
    finally:
        env.upstash.clear_faults()


def run_flush(env: ChaosEnv, size: FlushSize, app_factory: Callable[[], Any]) -> ScenarioResult:
    result = ScenarioResult("flush")
    started = time.monotonic()
    tuning = {
        "LEASE_SECONDS": str(size.lease_seconds),
        "RECONCILE_GRACE_SECONDS": "0",
        "RECONCILE_BATCH_SIZE": str(size.reconcile_batch),
    }
    env = replace(env, tuning=tuning)
    with scoped_environ(env.settings_env()), ProcessPool(env.process_env()) as pool:
        engine = get_engine()
        install_audit(engine)
        ids = user_ids(size.users, "r")
        seed_users(engine, ids, size.per_user)
        _queue_in_every_state(env, ids, app_factory)
        before = queue_state(env)
        dirty = sum(1 for s in user_states(engine).values() if s.dirty)
        result.details["keys_deleted"] = env.flush_queue()
        with ClaimWatcher(env) as watcher:
            drain = process_drain(pool)
            try:
                runs = drain_until_settled(env, engine, drain, timeout=120, sweep=True)
            except Timeout as exc:
                result.problem(str(exc))
                runs = []
        verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher)
        needed = math.ceil(dirty / size.reconcile_batch)
        if len(runs) < needed:
            result.problem(f"{len(runs)} drains swept {dirty} users in batches of fewer than that")
        result.operations = job_count(engine) + len(runs)
        result.faults_injected = 1
        result.details.update(
            dirty_at_flush=dirty,
            state_lost={
                "pending": len(before.pending),
                "retry": len(before.retry),
                "dead": len(before.dead),
                "leased": len(before.leased),
            },
            sweeping_drains=len(runs),
            reconciled=sum(int(r.get("reconciled") or 0) for r in runs),
        )
    result.seconds = time.monotonic() - started
    return result
