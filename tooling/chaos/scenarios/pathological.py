"""Scenario 8: users with pathological descriptions among normal users, under a platform limit.

Found by an adversarial pass (issue 14): one 500-character run of `x` in a description made a
summary pattern backtrack for minutes, the platform killed each 30 s call, and the innocent
users claimed in the same batch were dead-lettered. The patterns are linear now; this proves it
end to end. Pathological users write through the real API: JSON transactions whose descriptions
are the longest runs of `x`, `*`, `#` and look-alikes of masked cards the API stores (500
characters), and a statement upload whose description cells are 10,000 characters of the same.
Normal users are seeded in bulk. Then drain processes run as the platform runs them: each with
a budget a few seconds under the invocation limit, killed (SIGKILL) if it is still running at
the limit, and started again, until the queue settles.

Must hold: every drain finished inside the limit (so no kill was needed), no normal user is
dead, and every user's summary, pathological ones included, is exact. With the masked-card
pattern of before the fix put back, the CI size fails: invocations are killed at the limit and
the queue never settles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.base.auth import mint_token
from core.base.db import get_engine
from core.base.settings import get_settings
from tooling.chaos.env import ChaosEnv, scoped_environ
from tooling.chaos.observe import ClaimWatcher, install_audit
from tooling.chaos.procs import ProcessPool, Timeout, wait_for_clock
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.common import job_count, next_ready, queue_settled, verify
from tooling.chaos.seed import enqueue_all, seed_users, user_ids
from tooling.chaos.truth import queue_state

STORED_CHARS = 500  # the longest description the API stores
UPLOADED_CHARS = 10_000  # a statement cell; the import trims it to STORED_CHARS
# The shapes that made the old patterns backtrack: long runs of card-mask characters, runs of
# mask characters broken just before the end, and noise-prefix look-alikes.
RUNS = ("x", "X", "*", "#", "x*", "*x#", "xxxx-", "#*")


def pathological_texts(length: int) -> list[str]:
    texts = [(run * length)[:length] for run in RUNS]
    texts += [("x" * (length - 1))[: length - 1] + "!", "POS " + "*" * (length - 8) + "1234"]
    texts += ["CARD " + "xxxx " * ((length - 5) // 5)]
    return [text[:length] for text in texts]


@dataclass(frozen=True)
class PathologicalSize:
    normal_users: int = 200
    per_user: int = 50
    pathological_users: int = 20
    batch_size: int = 25
    invocation_limit_seconds: float = 30.0  # Vercel's maxDuration: the platform kills here
    budget_seconds: float = 25.0  # what the cron asks for under that limit
    lease_seconds: int = 60
    timeout_seconds: float = 600.0


def _write_pathological(client: TestClient, user: str) -> None:
    headers = {"Authorization": f"Bearer {mint_token(user, get_settings())}"}
    rows = [
        {"date": f"2025-0{1 + i % 9}-1{i % 10}", "amount": f"-{i + 1}.25", "currency": "USD",
         "description": text}
        for i, text in enumerate(pathological_texts(STORED_CHARS))
    ]  # fmt: skip
    created = client.post("/api/transactions", json=rows, headers=headers)
    if created.status_code != 201:
        raise RuntimeError(f"pathological JSON refused: {created.status_code} {created.text}")
    lines = ["Date,Description,Amount"]
    for i, text in enumerate(pathological_texts(UPLOADED_CHARS)):
        lines.append(f"2025-1{i % 3}-0{1 + i % 9},{text},{i + 3}.50")
    upload = client.post(
        "/api/transactions/upload",
        headers=headers,
        files={"file": ("statement.csv", ("\n".join(lines) + "\n").encode(), "text/csv")},
        data={"currency": "EUR"},
    )
    if upload.status_code != 201:
        raise RuntimeError(f"pathological upload refused: {upload.status_code} {upload.text}")


@dataclass
class _Ticks:
    runs: list[dict[str, Any]]
    kills: int
    longest_seconds: float


def _tick_until_settled(
    env: ChaosEnv, engine: Engine, pool: ProcessPool, size: PathologicalSize, ticks: _Ticks
) -> None:
    """Invocations as the platform makes them: budgeted, killed at the limit, started again.
    `ticks` keeps its figures even when the queue never settles (the Timeout)."""
    deadline = time.monotonic() + size.timeout_seconds
    while not queue_settled(env, engine, sweep=False):
        if time.monotonic() > deadline:
            raise Timeout(f"the queue did not settle within {size.timeout_seconds:.0f}s")
        ready = next_ready(env)
        if ready > time.time():
            wait_for_clock(ready, size.timeout_seconds, "a killed invocation's lease to expire")
        started = time.monotonic()
        process = pool.start(
            "--batch-size", str(size.batch_size), "--budget-seconds", str(size.budget_seconds)
        )
        try:
            process.wait(size.invocation_limit_seconds)
        except Timeout:
            process.kill()  # the platform's limit: no settle, no release, nothing
            ticks.kills += 1
        ticks.longest_seconds = max(ticks.longest_seconds, time.monotonic() - started)
        ticks.runs.append(process.stats())


def run_pathological(
    env: ChaosEnv, size: PathologicalSize, app_factory: Callable[[], Any]
) -> ScenarioResult:
    result = ScenarioResult("pathological")
    started = time.monotonic()
    tuning = {
        "LEASE_SECONDS": str(size.lease_seconds),
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_MAX_SECONDS": "1",
        "RECONCILE_GRACE_SECONDS": "3600",  # the queue alone must get everyone done
        "KICK_AFTER_WRITE": "false",  # every computation happens in a budgeted invocation
    }
    env = replace(env, tuning=tuning)
    with scoped_environ(env.settings_env()), ProcessPool(env.process_env()) as pool:
        engine = get_engine()
        install_audit(engine)
        normal = user_ids(size.normal_users, "n")
        hostile = user_ids(size.pathological_users, "p")
        seed_users(engine, normal, size.per_user)
        with TestClient(app_factory(), raise_server_exceptions=False) as client:
            for user in hostile:
                _write_pathological(client, user)
        enqueue_all(normal)
        with ClaimWatcher(env) as watcher:
            ticks = _Ticks(runs=[], kills=0, longest_seconds=0.0)
            try:
                _tick_until_settled(env, engine, pool, size, ticks)
            except Timeout as exc:
                result.problem(str(exc))
        dead = set(queue_state(env).dead)
        normal_dead = sorted(dead & set(normal))
        result.lost += len(normal_dead)
        result.problems.extend(f"normal user {u} was dead-lettered" for u in normal_dead[:10])
        if dead - set(normal):
            result.problem(f"pathological users dead: {sorted(dead - set(normal))[:10]}")
        if ticks.kills:
            limit = size.invocation_limit_seconds
            result.problem(f"{ticks.kills} invocations ran into the {limit:.0f}s limit")
        verify(result, env, engine, lease_seconds=size.lease_seconds, watcher=watcher)
        result.operations = len(hostile) * 2 + job_count(engine) + len(pool.processes)
        result.faults_injected = len(hostile)
        result.details.update(
            normal_users=len(normal),
            pathological_users=len(hostile),
            invocations=len(ticks.runs),
            kills=ticks.kills,
            longest_invocation_seconds=round(ticks.longest_seconds, 1),
            normal_dead=len(normal_dead),
            dead=len(dead),
        )
    result.seconds = time.monotonic() - started
    return result
