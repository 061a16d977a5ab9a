"""Scenario 6: a poison user, whose job fails every time, among healthy ones.

The poison is real data, not a test hook: ten CLF transactions of 10^18 minor units each, whose
sum no longer fits the summary's 64-bit columns. The API has refused such amounts since its
write-time bound (999,999,999,999 minor units), so they are written the way rows from before the
bound are there: straight into the ledger, with the version bump and the enqueue a write does.
Drain processes must retry that user with backoff and dead-letter it after
MAX_ATTEMPTS with the error, while every other user is summarised on the first attempt. Then
the user fixes the data, an operator requeues the dead letter (`scripts/drain.py
--requeue-dead`), and the next drain brings the summary up to date.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from core.base.auth import mint_token
from core.base.db import get_engine
from core.base.settings import get_settings
from core.queue import JobQueue
from core.queue.client import get_redis
from core.writes.ledger import SUMMARY_KIND, NewTransaction, add_transactions
from tooling.chaos.env import ChaosEnv, scoped_environ
from tooling.chaos.observe import ClaimWatcher, install_audit
from tooling.chaos.procs import ProcessPool, Timeout, wait_for_clock
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.common import drain_until_settled, job_count, process_drain, verify
from tooling.chaos.seed import user_ids
from tooling.chaos.truth import queue_state
from tooling.chaos.writers import run_writers

POISON = "poison-user"
POISON_MINOR = 10**18 - 1  # the largest CLF amount before the bound (99999999999999.9999)
POISON_ROWS = 10  # 10 x 10^18 minor units > 2^63 - 1


@dataclass(frozen=True)
class PoisonSize:
    users: int = 20
    operations: int = 60
    batch_size: int = 5
    max_attempts: int = 3
    lease_seconds: int = 10


def _poison_rows(engine: Engine) -> list[int]:
    row = NewTransaction(
        date=dt.date(2025, 1, 15), amount_minor=POISON_MINOR, currency="CLF", description=""
    )
    with Session(engine) as session:
        add_transactions(session, POISON, [row] * POISON_ROWS)
        session.commit()
    JobQueue(get_redis(), SUMMARY_KIND, get_settings()).enqueue(POISON)
    query = sa.text("SELECT id FROM transactions WHERE user_id = :u ORDER BY id")
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(query, {"u": POISON}).scalars()]


def _fix(client: TestClient, headers: dict[str, str], txn_id: int) -> None:
    """The user corrects one amount: the rest now fits."""
    path = f"/api/transactions/{txn_id}"
    response = client.patch(path, json={"amount": "1.0000"}, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"the fix was refused: {response.status_code} {response.text}")


def _drain_until_dead(env: ChaosEnv, pool: ProcessPool, batch: int, timeout: float) -> int:
    """Drain (each run promotes due retries) until the poison is dead; returns the runs."""
    runs = 0
    deadline = time.monotonic() + timeout
    while POISON not in queue_state(env).dead:
        if time.monotonic() > deadline:
            raise Timeout(f"{POISON} was not dead-lettered within {timeout:.0f}s")
        due = min(queue_state(env).retry.values(), default=0.0) / 1000
        wait_for_clock(due, timeout, "the poison's retry to fall due")
        pool.run("--batch-size", str(batch))
        runs += 1
    return runs


def _jobs(engine: Engine) -> list[tuple[str, str, int, str | None]]:
    query = "SELECT user_id, status, attempt, error FROM background_jobs ORDER BY id"
    with engine.connect() as conn:
        return [(str(u), str(s), int(a), e) for u, s, a, e in conn.execute(sa.text(query))]


def _check_dead(result: ScenarioResult, env: ChaosEnv, engine: Engine, attempts: int) -> None:
    """Dead after exactly MAX_ATTEMPTS, with the error; every other user done at once."""
    record = queue_state(env).jobs.get(POISON, {})
    result.details["dead_letter_error"] = str(record.get("error", ""))[:160]
    if record.get("attempts") != attempts or "range" not in str(record.get("error")):
        result.problem(f"dead letter of {POISON} is not as expected: {record}")
    jobs = _jobs(engine)
    poison = [(s, a) for u, s, a, _ in jobs if u == POISON]
    expected = [("failed", n) for n in range(1, attempts)] + [("dead", attempts)]
    if poison != expected:
        result.problem(f"job rows of {POISON}: {poison}, expected {expected}")
    others = [(u, s, a) for u, s, a, _ in jobs if u != POISON and (s != "succeeded" or a != 1)]
    result.problems.extend(f"a healthy user was affected: {row}" for row in others[:10])
    result.details["healthy_jobs_affected"] = len(others)


def run_poison(env: ChaosEnv, size: PoisonSize, app_factory: Callable[[], Any]) -> ScenarioResult:
    result = ScenarioResult("poison")
    started = time.monotonic()
    tuning = {
        "LEASE_SECONDS": str(size.lease_seconds),
        "MAX_ATTEMPTS": str(size.max_attempts),
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_MAX_SECONDS": "1",
        "RECONCILE_GRACE_SECONDS": "0",  # the sweep runs every time and must leave it dead
        # The fix's own after-write kick would recompute the user at once and clear the dead
        # letter; the scenario is about the operator's requeue, so drains alone compute.
        "KICK_AFTER_WRITE": "false",
    }
    env = replace(env, tuning=tuning)
    with scoped_environ(env.settings_env()), ProcessPool(env.process_env()) as pool:
        engine = get_engine()
        install_audit(engine)
        headers = {"Authorization": f"Bearer {mint_token(POISON, get_settings())}"}
        with TestClient(app_factory(), raise_server_exceptions=False) as client:
            poison_ids = _poison_rows(engine)
            log = run_writers(app_factory, user_ids(size.users, "h"), 2, size.operations)
            with ClaimWatcher(env) as watcher:
                dead_runs = _drain_until_dead(env, pool, size.batch_size, 60)
                _check_dead(result, env, engine, size.max_attempts)
                _fix(client, headers, poison_ids[0])
                requeue = pool.run("--requeue-dead", POISON)
                if requeue.stats() != {"requeued": 1}:
                    result.problem(f"requeue answered {requeue.stdout!r}")
                drain = process_drain(pool, "--batch-size", str(size.batch_size))
                drain_until_settled(env, engine, drain, timeout=60, sweep=True)
        verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher, log=log)
        result.operations = len(log.writes) + job_count(engine) + len(pool.processes)
        result.faults_injected = 1
        result.details.update(users=size.users + 1, drains_until_dead=dead_runs)
    result.seconds = time.monotonic() - started
    return result
