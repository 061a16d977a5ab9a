"""Section 3: what a cron tick costs when there is nothing to do (most ticks, most of the time)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import QueryCounter, median, trusted
from tooling.bench.report import IdleTickFigures, UpstashUsage

# Synchronous: each tick's figures are checked (a 202 run costs the same, after the answer).
CRON_PATH = "/api/cron/process-financial-summary-queue?wait=true"
MIN_TICKS = 5


def measure_idle_tick(
    env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> IdleTickFigures:
    from fastapi.testclient import TestClient

    from api._http.app import create_app

    ticks = max(MIN_TICKS, 3 * config.repeat) | 1  # odd: the median is a tick, not a mean
    headers = {"Authorization": f"Bearer {env.cron_secret}"}
    latencies: list[float] = []
    usages: list[UpstashUsage] = []
    counters: list[QueryCounter] = []
    echo(f"idle tick x{ticks}")
    with TestClient(create_app()) as client:
        # The first tick of a process builds settings and clients and may load the Lua scripts:
        # a cold start, which section 4 measures; the steady idle tick is the one that recurs.
        _check(client.get(CRON_PATH, headers=headers).json())
        for _ in range(ticks):
            before = env.meter.reading()
            with QueryCounter(env.engine) as counter:
                started = time.perf_counter()
                response = client.get(CRON_PATH, headers=headers)
                latencies.append(time.perf_counter() - started)
            usages.append(env.meter.since(before))
            counters.append(counter)
            _check(response.json())
    return IdleTickFigures(
        ticks=ticks,
        requests=int(median([u["requests"] for u in usages])),
        billed=int(median([u["billed"] for u in trusted(usages)])),
        billed_by_command=trusted(usages)[-1]["by_command"],
        db_queries=int(median([c.queries for c in counters])),
        db_writes=int(median([c.writes for c in counters])),
        db_connections=int(median([c.connections for c in counters])),
        latency_seconds=median(latencies),
        samples_latency_seconds=latencies,
        clean=any(u["clean"] for u in usages),
    )


def _check(body: dict[str, object]) -> None:
    if body.get("stop_reason") != "empty" or body.get("claimed") != 0:
        raise RuntimeError(f"the tick was not idle (is the queue empty?): {body}")
