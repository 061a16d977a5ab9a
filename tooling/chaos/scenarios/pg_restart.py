"""Scenario 4: PostgreSQL restarted while a drain is in the middle of a batch.

The scenario runs its own cluster (never the machine's shared server). It holds the users' rows
locked so the drain's batch is read, computed and waiting inside its write transaction, then
restarts the server with a fast shutdown, which ends every session. An unreachable database is
nobody's failure: the batch must be released cleanly (no attempt counted, nothing half-written)
and the run stop with the database error, and later drains must finish it once the server is
back, on the attempt it would have had anyway.
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
    cluster: PrivateCluster, pool: ProcessPool, engine: Engine, env: ChaosEnv, batch: int
) -> tuple[DrainProcess, set[str]]:
    """Start a drain, restart the server while its batch waits in the write transaction;
    returns the process and the ids its claim held."""
    database = str(engine.url.database)
    lock = _lock_users(cluster.port, database)
    try:
        process = pool.start("--batch-size", str(batch))
        wait_until(lambda: blocked_in_write(engine), EVENT_TIMEOUT_SECONDS, "a blocked batch")
        held = {str(job[0]) for claim in queue_state(env).claims.values() for job in claim["jobs"]}
        cluster.restart()
    finally:
        lock.close()  # already ended by the restart
    process.wait(EVENT_TIMEOUT_SECONDS * 4)
    return process, held


def _finished_again(engine: Engine, ids: set[str]) -> set[str]:
    query = sa.text(
        "SELECT DISTINCT user_id FROM background_jobs WHERE status = 'succeeded'"
        " AND attempt = 1 AND user_id = ANY(:ids)"
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
            counted: list[str] = []
            with ClaimWatcher(env) as watcher:
                for _ in range(size.restarts):
                    process, held = _restart_mid_batch(cluster, pool, engine, env, size.batch_size)
                    first_runs.append(process.stats())
                    jobs = queue_state(env).jobs
                    counted += [u for u in held if int(jobs.get(u, {}).get("attempts", 0))]
                    interrupted |= held
                drain = process_drain(pool, "--batch-size", str(size.batch_size))
                try:
                    runs = drain_until_settled(env, engine, drain, timeout=120)
                except Timeout as exc:
                    result.problem(str(exc))
                    runs = []
            verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher)
            _check_released_cleanly(result, first_runs, counted)
            unfinished = interrupted - _finished_again(engine, interrupted)
            result.lost += len(unfinished)
            result.problems.extend(f"interrupted {uid} never finished" for uid in unfinished)
            result.operations = job_count(engine) + len(pool.processes)
            result.faults_injected = size.restarts
            result.details.update(
                users=size.users,
                restarts=size.restarts,
                released_by_restart=sum_stat(first_runs, "released"),
                failed_by_restart=sum_stat(first_runs, "failed"),
                interrupted_ids=len(interrupted),
                error_sample=sorted({str(r.get("error", ""))[:120] for r in first_runs})[:2],
                finishing_drains=len(runs),
            )
    result.seconds = time.monotonic() - started
    return result


def _check_released_cleanly(
    result: ScenarioResult, first_runs: list[dict[str, Any]], counted: list[str]
) -> None:
    """Each interrupted run released its batch (not a crash, no attempt counted) and stopped
    there, rather than going on while the server was down, and its error says why."""
    for stats in first_runs:
        if not stats:
            result.problem("a drain interrupted by the restart printed no figures (it crashed)")
        elif stats.get("failed") or stats.get("stop_reason") != "error":
            result.problem(f"a drain interrupted by the restart did not stop cleanly: {stats}")
        elif stats["claimed"] != stats["released"] or stats["batches"] != 1:
            result.problem(f"the restart touched more than the batch in flight: {stats}")
        elif "OperationalError" not in str(stats.get("error")):
            result.problem(f"the run's error does not name the database error: {stats}")
    result.problems.extend(f"the restart cost {uid} an attempt" for uid in counted)
