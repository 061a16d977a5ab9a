"""Section 6: what the enqueue adds to a write, `POST /api/transactions` with and without it.

Two instances of the app run side by side: one as configured (but for the kick, which runs after
the answer and which section 7 measures), one whose settings have no Upstash URL either (so the
write path skips the enqueue, as a deployment without a queue would). Requests alternate
between them one by one, each for a new user, so both sides do the same database work under the
same machine load. Upstash requests are counted per side to prove the
second really never touched the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tooling.bench.client import bearer, missing_route
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import median, ratio
from tooling.bench.report import Unavailable, WritePathFigures

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

WRITE_PATH = "/api/transactions"
WRITES_PER_REPEAT = 40
WARM_UP_WRITES = 3
BODY = {
    "date": "2025-01-31",
    "amount": "-12.34",
    "currency": "USD",
    "description": "COFFEE HOUSE DOWNTOWN",
    "category": "Dining",
}


@dataclass(slots=True)
class _Side:
    name: str
    client: TestClient
    env: BenchEnvironment
    samples: list[float] = field(default_factory=list)
    upstash_requests: int = 0

    def write(self, index: int, record: bool = True) -> None:
        headers = bearer(f"bench-write-{self.name}-{index:05d}", self.env.settings)
        before = self.env.server.stats()["requests"]
        started = time.perf_counter()
        response = self.client.post(WRITE_PATH, json=BODY, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"write failed: {response.status_code} {response.text[:500]}")
        if record:
            self.samples.append(elapsed)
            self.upstash_requests += self.env.server.stats()["requests"] - before


def measure_write_path(
    env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> WritePathFigures | Unavailable:
    from fastapi.testclient import TestClient

    from api._http.app import create_app
    from core.base.settings import get_settings

    with_queue = create_app()
    # The test client runs a response's background tasks before it returns, so the kick would
    # be timed as part of the write; it runs after the answer in production (section 7).
    no_kick = env.settings.model_copy(update={"kick_after_write": False})
    with_queue.dependency_overrides[get_settings] = lambda: no_kick
    unavailable = missing_route(with_queue, "POST", WRITE_PATH)
    if unavailable is not None:
        echo(f"write path: {unavailable['reason']}")
        return unavailable
    without_queue = create_app()
    no_queue = no_kick.model_copy(update={"upstash_redis_rest_url": ""})
    without_queue.dependency_overrides[get_settings] = lambda: no_queue
    writes = WRITES_PER_REPEAT * config.repeat
    echo(f"write path: {writes} writes with and {writes} without the enqueue, alternating")
    with TestClient(with_queue) as a, TestClient(without_queue) as b:
        on, off = _Side("on", a, env), _Side("off", b, env)
        for i in range(WARM_UP_WRITES):
            on.write(i, record=False)
            off.write(i, record=False)
        for i in range(WARM_UP_WRITES, WARM_UP_WRITES + writes):
            for side in (on, off) if i % 2 == 0 else (off, on):
                side.write(i)
    if off.upstash_requests:
        reason = f"the queue could not be switched off: {off.upstash_requests} Upstash requests"
        return Unavailable(available=False, reason=reason)
    return WritePathFigures(
        available=True,
        requests=writes,
        with_enqueue_seconds=median(on.samples),
        without_enqueue_seconds=median(off.samples),
        ratio=ratio(median(on.samples), median(off.samples)),
        upstash_requests_per_write_with=on.upstash_requests / writes,
        upstash_requests_per_write_without=off.upstash_requests / writes,
    )
