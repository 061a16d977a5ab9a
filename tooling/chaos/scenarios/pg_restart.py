"""Scenario 4: PostgreSQL restarted while a drain is in the middle of a batch.

The scenario runs its own cluster (never the machine's shared server). It holds the users' rows
locked so the drain's batch is read, computed and waiting inside its write transaction, then
restarts the server with a fast shutdown, which ends every session. The batch must fail
cleanly (retried with its error recorded, nothing half-written), and later drains must finish
it once the server is back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import Engine

from core.base.db import get_engine
from tooling.chaos.env import ChaosEnv, scoped_environ, scratch_database
from tooling.chaos.observe import ClaimWatcher, install_audit
from tooling.chaos.pgcluster import PrivateCluster
from tooling.chaos.procs import DrainProcess, ProcessPool, Timeout, wait_until
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.common import (
    drain_until_settled,
    job_count,
    process_drain,
    sum_stat,
    verify,
)
from tooling.chaos.scenarios.kill import blocked_in_write
from tooling.chaos.seed import enqueue_all, seed_users, user_ids
from tooling.chaos.truth import queue_state

EVENT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RestartSize:
    users: int = 30
    per_user: int = 500
    batch_size: int = 3
    restarts: int = 2
    lease_seconds: int = 5


def _lock_users(port: int, database: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=database)
    conn.execute("SELECT id FROM users FOR UPDATE")
    return conn


def _restart_mid_batch(
    cluster: PrivateCluster, pool: ProcessPool, engine: Engine, batch: int
) -> DrainProcess:
    """Start a drain, restart the server while its batch waits in the write transaction."""
    database = str(engine.url.database)
    lock = _lock_users(cluster.port, database)
    try:
        process = pool.start("--batch-size", str(batch))
        wait_until(lambda: blocked_in_write(engine), EVENT_TIMEOUT_SECONDS, "a blocked batch")
        cluster.restart()
    finally:
        lock.close()  # already ended by the restart
    process.wait(EVENT_TIMEOUT_SECONDS * 4)
    return process


def _finished_again(engine: Engine, ids: set[str]) -> set[str]:
    query = sa.text(
        "SELECT DISTINCT user_id FROM background_jobs WHERE status = 'succeeded'"
        " AND attempt >= 2 AND user_id = ANY(:ids)"
    )
    with engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(query, {"ids": sorted(ids)})}


def run_pg_restart(env: ChaosEnv, size: RestartSize) -> ScenarioResult:
    result = ScenarioResult("pg_restart")
    started = time.monotonic()
    tuning = {
        "LEASE_SECONDS": str(size.lease_seconds),
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_MAX_SECONDS": "1",
        "RECONCILE_GRACE_SECONDS": "3600",
    }
    with PrivateCluster() as cluster, scratch_database(cluster.url) as url:
        env = replace(env, database_url=url, tuning=tuning)
        with scoped_environ(env.settings_env()), ProcessPool(env.process_env()) as pool:
            engine = get_engine()
            install_audit(engine)
            ids = user_ids(size.users, "p")
            seed_users(engine, ids, size.per_user)
            enqueue_all(ids)
            interrupted: set[str] = set()
            first_runs: list[dict[str, Any]] = []
            errors: list[str] = []
            with ClaimWatcher(env) as watcher:
                for _ in range(size.restarts):
                    process = _restart_mid_batch(cluster, pool, engine, size.batch_size)
                    stats = process.stats()
                    first_runs.append(stats)
                    retrying = queue_state(env)
                    errors += [str(r.get("error", "")) for r in retrying.jobs.values()]
                    interrupted |= set(retrying.retry)
                drain = process_drain(pool, "--batch-size", str(size.batch_size))
                try:
                    runs = drain_until_settled(env, engine, drain, timeout=120)
                except Timeout as exc:
                    result.problem(str(exc))
                    runs = []
            verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher)
            _check_failed_cleanly(result, first_runs, errors)
            unfinished = interrupted - _finished_again(engine, interrupted)
            result.lost += len(unfinished)
            result.problems.extend(f"interrupted {uid} never finished" for uid in unfinished)
            result.operations = job_count(engine) + len(pool.processes)
            result.faults_injected = size.restarts
            result.details.update(
                users=size.users,
                restarts=size.restarts,
                failed_by_restart=sum_stat(first_runs, "failed"),
                retried_ids=len(interrupted),
                error_sample=sorted(set(errors))[:2],
                finishing_drains=len(runs),
            )
    result.seconds = time.monotonic() - started
    return result


def _check_failed_cleanly(
    result: ScenarioResult, first_runs: list[dict[str, Any]], errors: list[str]
) -> None:
    """Each interrupted run failed its batch (not a crash) and stopped there, rather than
    failing every batch after it while the server was down, and the errors say why."""
    for stats in first_runs:
        if not stats:
            result.problem("a drain interrupted by the restart printed no figures (it crashed)")
        elif not stats.get("failed") or stats.get("stop_reason") != "error":
            result.problem(f"a drain interrupted by the restart did not stop on it: {stats}")
        elif stats["claimed"] != stats["failed"] or stats["batches"] != 1:
            result.problem(f"the restart failed more than the batch in flight: {stats}")
    if not any("OperationalError" in error for error in errors):
        result.problem(f"no retry records the database error: {errors[:3]}")
