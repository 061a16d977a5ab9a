"""The bench's Upstash meter: a window with only Tally's own traffic is clean, another client's
commands make it dirty. Fed known situations on the real Redis behind the local Upstash."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from core.base.settings import Settings
from core.queue import Failure, JobQueue
from core.queue.client import make_redis
from tests.conftest import REDIS_URL, UpstashHandle
from tooling.bench.measure import UpstashMeter, queue_commands


@pytest.fixture
def queue(env: pytest.MonkeyPatch, upstash: UpstashHandle) -> JobQueue:
    settings = Settings(
        upstash_redis_rest_url=upstash.url,
        upstash_redis_rest_token=upstash.token,
        queue_prefix=upstash.prefix,
        max_attempts=2,
        upstash_retry_interval_seconds=0.01,
    )
    return JobQueue(make_redis(settings), "financial-summary", settings)


def every_transition(queue: JobQueue) -> None:
    """Each queue operation once, so each Lua script and direct command runs."""
    queue.enqueue("a", "b", "c")
    claim = queue.claim(3)
    queue.settle(claim, ok=["a"], failed=[Failure(id="b", error="boom", permanent=True)])
    queue.reap()
    queue.stats()
    queue.dead_letters()
    queue.requeue_dead(["b"])
    queue.purge_dead()


def test_tally_traffic_alone_is_a_clean_window(upstash: UpstashHandle, queue: JobQueue) -> None:
    """Another client of a shared Redis can only add commands to a window, never remove ours:
    one clean window out of a few proves the list is complete; a missing command (ZMSCORE was)
    makes every window dirty."""
    meter = UpstashMeter(upstash.server, upstash.raw)
    seen: list[list[str]] = []
    for _ in range(5):
        before = meter.reading()
        every_transition(queue)
        usage = meter.since(before)
        assert usage["requests"] > 0
        if usage["clean"]:
            return
        seen.append(sorted(usage["by_command"]))
    pytest.fail(f"false warning in every window: commands seen {seen[-1]}")


def test_another_client_makes_the_window_dirty(upstash: UpstashHandle, queue: JobQueue) -> None:
    meter = UpstashMeter(upstash.server, upstash.raw)
    other = redis.Redis.from_url(REDIS_URL)
    before = meter.reading()
    queue.enqueue("a")
    other.set(f"{upstash.prefix}:intruder", "1")
    other.get(f"{upstash.prefix}:intruder")
    usage = meter.since(before)
    other.close()
    assert not usage["clean"]


def test_the_expected_commands_come_from_the_scripts(tmp_path: Path) -> None:
    (tmp_path / "x.lua").write_text("redis.call('ZMSCORE', KEYS[1], 'a')\nredis.pcall(\"LREM\", k)")
    assert {"zmscore", "lrem", "evalsha"} <= queue_commands(tmp_path)
