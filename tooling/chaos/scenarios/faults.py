"""Scenario 3: Upstash failing under writes and drains (errors, latency, lost responses).

`upstash_local` answers a share of requests with an error (nothing ran), delays every request,
and cuts off a share of responses after the command ran (the SDK then re-sends it). Writers keep
going through the API and two drain processes keep running, all through the faulty server; the
reconcile sweep (short grace) finds users whose enqueue failed. Cron ticks (threads calling
the real cron endpoint back to back) drain alongside the processes. The final catch-up happens with
the faults still on; only the verification reads Redis directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.base.db import get_engine
from tooling.chaos.env import ChaosEnv, scoped_environ
from tooling.chaos.observe import ClaimWatcher, install_audit
from tooling.chaos.procs import DrainSlots, ProcessPool, Timeout, wait_until
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.common import job_count, queue_settled, sum_stat, verify
from tooling.chaos.seed import user_ids
from tooling.chaos.writers import CronPinger, run_writers


@dataclass(frozen=True)
class FaultSize:
    users: int = 24
    writer_threads: int = 3
    operations: int = 300
    drains: int = 2
    cron_threads: int = 2
    batch_size: int = 4
    error_rate: float = 0.2
    drop_rate: float = 0.1
    latency_seconds: float = 0.005
    lease_seconds: int = 3
    seed: int = 20


def run_faults(env: ChaosEnv, size: FaultSize, app_factory: Callable[[], Any]) -> ScenarioResult:
    result = ScenarioResult("faults")
    started = time.monotonic()
    tuning = {
        "LEASE_SECONDS": str(size.lease_seconds),
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_MAX_SECONDS": "1",
        "RECONCILE_GRACE_SECONDS": "1",
    }
    env = replace(env, tuning=tuning)
    with scoped_environ(env.settings_env()), ProcessPool(env.process_env()) as pool:
        engine = get_engine()
        install_audit(engine)
        users = user_ids(size.users, "f")
        env.upstash.reset_stats()
        env.upstash.set_faults(size.error_rate, size.latency_seconds, size.drop_rate, size.seed)
        args = ("--batch-size", str(size.batch_size))
        try:
            with (
                ClaimWatcher(env) as watcher,
                DrainSlots(pool, size.drains, *args) as slots,
                CronPinger(app_factory, size.cron_threads, env.secrets.cron) as cron,
            ):
                log = run_writers(app_factory, users, size.writer_threads, size.operations)
                try:
                    wait_until(lambda: queue_settled(env, engine, sweep=True), 180, "catch-up")
                except Timeout as exc:
                    result.problem(str(exc))
                cron.stop()
                runs = slots.stop() + cron.runs
        finally:
            stats = env.upstash.stats()
            env.upstash.clear_faults()
        verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher, log=log)
        result.problems.extend(cron.failures[:10])
        result.faults_injected = stats["errors_injected"] + stats["dropped"]
        result.operations = len(log.writes) + stats["requests"] + job_count(engine)
        result.details.update(
            users=size.users,
            upstash_requests=stats["requests"],
            errors_injected=stats["errors_injected"],
            responses_dropped=stats["dropped"],
            drain_runs=len(runs),
            cron_runs=len(cron.runs),
            drain_runs_stopped_by_errors=sum(1 for r in runs if r.get("stop_reason") == "error"),
            reconciled=sum_stat(runs, "reconciled"),
            reclaimed=sum_stat(runs, "reclaimed"),
        )
    result.seconds = time.monotonic() - started
    return result
