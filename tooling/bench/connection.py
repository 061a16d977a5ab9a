"""Section 11: `GET /api/summary` on a warm pooled connection against a new connection each time.

One app, two engines on the same database: the default pool (as a Fluid compute instance keeps
it) and no pool (a connection opened per request, as every request did before). Requests
alternate between them, for one user whose summary is stored, so both sides read the same rows
under the same machine load. The pooled side's connection count proves it reused one.

The reads go through the app's ASGI interface on one event loop (`httpx.ASGITransport`), as a
server hands it requests, not through the test client, whose hop to a thread per request and
back costs more than the read itself on a loaded machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine, event
from sqlmodel import Session

from core.base.db import make_engine
from tooling.bench.client import bearer, missing_route
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import median, ratio
from tooling.bench.report import ConnectionFigures, Unavailable

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

SUMMARY_PATH = "/api/summary"
CRON_PATH = "/api/cron/process-financial-summary-queue"
USER = "bench-connection"
READS_PER_REPEAT = 40
SEED_WRITES = 20


def _seed(client: TestClient, env: BenchEnvironment, headers: dict[str, str]) -> None:
    for day in range(1, SEED_WRITES + 1):
        body = {"date": f"2025-01-{day:02d}", "amount": "-4.20", "currency": "USD"}
        client.post("/api/transactions", json=body, headers=headers).raise_for_status()
    cron = {"Authorization": f"Bearer {env.cron_secret}"}
    client.get(f"{CRON_PATH}?wait=true", headers=cron).raise_for_status()


def _use(app: FastAPI, engine: Engine) -> None:
    from api._http.deps import get_session

    def session() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    app.dependency_overrides[get_session] = session


async def _read(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await client.get(SUMMARY_PATH, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"summary failed: {response.status_code} {response.text[:300]}")
    return elapsed


async def _alternate(
    app: FastAPI, engines: dict[str, Engine], headers: dict[str, str], reads: int
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {side: [] for side in engines}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for i in range(reads + 2):
            for side in ("pooled", "fresh") if i % 2 == 0 else ("fresh", "pooled"):
                _use(app, engines[side])
                elapsed = await _read(client, headers)
                if i >= 2:  # the first reads of each side warm the app up
                    samples[side].append(elapsed)
    return samples


def measure_connection(
    env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> ConnectionFigures | Unavailable:
    from fastapi.testclient import TestClient

    from api._http.app import create_app

    app = create_app()
    unavailable = missing_route(app, "GET", SUMMARY_PATH)
    if unavailable is not None:
        return unavailable
    pooled = make_engine(env.database_url, env.settings)
    fresh = make_engine(env.database_url, env.settings.model_copy(update={"database_pool_size": 0}))
    opened = {"pooled": 0, "fresh": 0}
    event.listen(pooled, "connect", lambda *_: opened.__setitem__("pooled", opened["pooled"] + 1))
    event.listen(fresh, "connect", lambda *_: opened.__setitem__("fresh", opened["fresh"] + 1))
    reads = READS_PER_REPEAT * config.repeat
    echo(f"connection: {reads} summary reads on a pooled and {reads} on a new connection")
    headers = bearer(USER, env.settings)
    with TestClient(app) as client:
        _seed(client, env, headers)
        samples = asyncio.run(_alternate(app, {"pooled": pooled, "fresh": fresh}, headers, reads))
    pooled.dispose()
    fresh.dispose()
    warm, cold = median(samples["pooled"]), median(samples["fresh"])
    return ConnectionFigures(
        available=True,
        requests=reads,
        warm_ms=warm * 1000,
        cold_ms=cold * 1000,
        ratio=ratio(cold, warm),
        warm_connections_opened=opened["pooled"],
        cold_connections_opened=opened["fresh"],
    )
