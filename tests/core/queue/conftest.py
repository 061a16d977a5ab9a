from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.base.settings import Settings
from core.queue import JobQueue
from core.queue.client import make_redis
from tests.conftest import UpstashHandle


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue_settings(env: pytest.MonkeyPatch, upstash: UpstashHandle) -> Settings:
    return Settings(
        upstash_redis_rest_url=upstash.url,
        upstash_redis_rest_token=upstash.token,
        queue_prefix=upstash.prefix,
        lease_seconds=60,
        max_attempts=3,
        retry_base_seconds=10,
        retry_max_seconds=100,
        upstash_retry_interval_seconds=0.01,
    )


@pytest.fixture
def queue(queue_settings: Settings, clock: Clock) -> Iterator[JobQueue]:
    redis = make_redis(queue_settings)
    yield JobQueue(redis, "financial-summary", queue_settings, clock=clock)
    redis.close()  # type: ignore[no-untyped-call]
