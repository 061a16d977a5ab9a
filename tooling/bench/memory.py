"""Section 10: the drain's peak memory as users' histories grow.

For each history size, a full default batch of users with that many transactions each is queued
and drained by a fresh interpreter (as a cron invocation is one), which reports its peak resident
set: before the drain (imports, engine, client: the floor) and after it. Peak RSS only ever
grows within a process, hence one process per size. The figure to watch is the growth from the
smallest history to the largest: a drain that reads rollups, or bounds the rows it holds, stays
flat; one that holds every row of the batch grows with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from core.queue import JobQueue
from core.queue.client import get_redis
from core.writes.ledger import SUMMARY_KIND
from tooling.bench.data import load_ledger, user_ids
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import ratio
from tooling.bench.report import MemoryFigures, MemoryPoint

ROOT = Path(__file__).resolve().parents[2]
_DRAIN = "from tooling.bench.memory import drain_and_report; drain_and_report()"
_TIMEOUT_SECONDS = 600.0


def _max_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def drain_and_report() -> None:
    """The child process: drain the queue once, print the peak RSS before and after as JSON."""
    from core.base.settings import get_settings
    from core.drain import runner
    from functions import get_kind

    settings = get_settings()
    kind = get_kind(SUMMARY_KIND)
    floor = _max_rss_bytes()
    options = runner.DrainOptions(batch_size=settings.drain_batch_size)
    stats = runner.run(kind, "bench", options, settings)
    report = {"floor": floor, "peak": _max_rss_bytes(), "succeeded": stats.succeeded}
    print(json.dumps(report), flush=True)


def _drain_in_child() -> dict[str, int]:
    done = subprocess.run(  # noqa: S603 - our own interpreter with a fixed snippet
        [sys.executable, "-c", _DRAIN],
        cwd=ROOT,
        env=os.environ.copy(),  # the benchmark's settings: database, queue, secrets
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the drain process failed: {done.stderr[-2000:]}")
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _stale_users(env: BenchEnvironment, users: list[str]) -> int:
    """How many of `users` the drain did not bring up to date (other sections' users may have
    been queued too, so the drain's own count says nothing about these)."""
    query = sa.text(
        "SELECT count(*) FROM users WHERE id IN :ids AND summary_version <> data_version"
    ).bindparams(sa.bindparam("ids", expanding=True))
    with env.engine.connect() as conn:
        return int(conn.execute(query, {"ids": users}).scalar_one())


def measure_memory(
    env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> MemoryFigures:
    users_per_size = config.memory_users or env.settings.drain_batch_size
    queue = JobQueue(get_redis(), SUMMARY_KIND, env.settings)
    points: list[MemoryPoint] = []
    for size in config.memory_rows:
        users = user_ids(users_per_size, prefix=f"mem{size}")
        rows = load_ledger(env.database_url, users, size, config.seed)
        echo(f"memory: {users_per_size} users x {size:,} rows ({rows:,} rows), one drain")
        queue.enqueue(*users)
        child = _drain_in_child()
        stale = _stale_users(env, users)
        if stale:
            raise RuntimeError(f"the drain left {stale} of {len(users)} summaries stale: {child}")
        points.append(
            MemoryPoint(
                rows_per_user=size,
                users=len(users),
                floor_bytes=child["floor"],
                peak_bytes=child["peak"],
                drain_bytes=max(child["peak"] - child["floor"], 0),
            )
        )
    smallest, largest = points[0], points[-1]
    return MemoryFigures(
        batch_size=env.settings.drain_batch_size,
        points=points,
        peak_ratio_largest_to_smallest=ratio(largest["peak_bytes"], smallest["peak_bytes"]),
        largest_peak_bytes=largest["peak_bytes"],
    )
