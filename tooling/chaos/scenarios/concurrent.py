"""Scenario 2: four drain processes at once while users keep changing their data.

Writers (threads, through the HTTP API) create, edit and delete transactions of their own users
while four `scripts/drain.py` processes run side by side, each replaced as soon as it finishes.
Then the drains go on until the queue settles. Every final summary must be current, no summary
write may go backwards (audited by a trigger), and the job rows must agree with the summaries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from core.base.db import get_engine
from tooling.chaos.env import ChaosEnv, scoped_environ
from tooling.chaos.observe import ClaimWatcher, install_audit
from tooling.chaos.procs import DrainSlots, ProcessPool, Timeout, wait_until
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.common import job_count, queue_settled, sum_stat, verify
from tooling.chaos.seed import user_ids
from tooling.chaos.writers import run_writers


@dataclass(frozen=True)
class ConcurrentSize:
    users: int = 24
    writer_threads: int = 4
    operations: int = 400
    drains: int = 4
    batch_size: int = 3
    lease_seconds: int = 10


def check_job_rows(result: ScenarioResult, engine: Engine) -> None:
    """Job rows agree with the users: the summary version is the newest version a succeeded
    job computed, no job computed a version the data never had, every row is well formed."""
    query = sa.text(
        "SELECT u.id, u.data_version, u.summary_version,"
        " max(j.source_version) FILTER (WHERE j.status = 'succeeded'),"
        " count(j.id) FILTER (WHERE j.status NOT IN ('succeeded', 'failed', 'dead')"
        "   OR j.attempt < 1 OR j.finished_at < j.started_at)"
        " FROM users u LEFT JOIN background_jobs j ON j.user_id = u.id"
        " GROUP BY u.id, u.data_version, u.summary_version"
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    for user, data_version, summary_version, newest, malformed in rows:
        if newest != summary_version:
            result.problem(f"jobs of {user}: newest computed v{newest}, summary v{summary_version}")
        if newest is not None and newest > data_version:
            result.problem(f"jobs of {user}: computed v{newest} beyond data v{data_version}")
        if malformed:
            result.problem(f"jobs of {user}: {malformed} malformed rows")
    result.details["job_rows_checked"] = job_count(engine)


def run_concurrent(
    env: ChaosEnv, size: ConcurrentSize, app_factory: Callable[[], Any]
) -> ScenarioResult:
    result = ScenarioResult("concurrent")
    started = time.monotonic()
    env = replace(env, tuning={"LEASE_SECONDS": str(size.lease_seconds)})
    with scoped_environ(env.settings_env()), ProcessPool(env.process_env()) as pool:
        engine = get_engine()
        install_audit(engine)
        users = user_ids(size.users, "w")
        args = ("--batch-size", str(size.batch_size))
        with ClaimWatcher(env) as watcher, DrainSlots(pool, size.drains, *args) as slots:
            log = run_writers(app_factory, users, size.writer_threads, size.operations)
            writes_done = len(pool.processes)
            try:
                wait_until(lambda: queue_settled(env, engine, sweep=True), 120, "catch-up")
            except Timeout as exc:
                result.problem(str(exc))
            runs = slots.stop()
        verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher, log=log)
        check_job_rows(result, engine)
        result.operations = len(log.writes) + job_count(engine) + len(runs)
        result.details.update(
            users=size.users,
            drain_runs=len(runs),
            drain_runs_during_writes=writes_done,
            concurrent_drains=size.drains,
            jobs_succeeded=sum_stat(runs, "succeeded"),
        )
    result.seconds = time.monotonic() - started
    return result
