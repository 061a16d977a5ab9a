"""What a drain costs on Upstash when there is nothing to do: most cron ticks, most of the time.

Billed commands are read from Redis `INFO commandstats` (Redis counts every command a script
runs, which is what Upstash bills). Other clients of the same Redis disturb the counters, so a
window counts only when every script call in it came through this test's proxy.
"""

from __future__ import annotations

import pytest

from core.drain.runner import DrainOptions, StopReason, run
from functions import get_kind
from tests.conftest import IN_CI, UpstashHandle
from tests.support import World
from tooling.bench.measure import UpstashMeter

KIND = get_kind("financial-summary")
WINDOWS = 30  # tries at an undisturbed window of the shared Redis


def _idle_tick(world: World, upstash: UpstashHandle) -> tuple[int, int, dict[str, int]]:
    """(requests, billed, by command) of the least disturbed idle tick: another client's commands
    can only add to a window's counts, so the smallest clean window is the tick's own cost."""
    meter = UpstashMeter(upstash.server, upstash.raw)
    best: tuple[int, int, dict[str, int]] | None = None
    for _ in range(WINDOWS):
        before = meter.reading()
        stats = run(KIND, "test", DrainOptions(batch_size=10), world.settings)
        usage = meter.since(before)
        assert stats.stop_reason is StopReason.EMPTY, stats
        assert stats.claimed == 0, stats
        if usage["clean"] and (best is None or usage["billed"] < best[1]):
            best = (usage["requests"], usage["billed"], usage["by_command"])
        if best is not None and set(best[2]) <= {"evalsha", "exists"}:
            break  # nobody else's command in the window: this is the exact count
    if best is None:
        # Every window dirty is also what a command missing from the bench's list looks like,
        # so under CI (a private Redis) it fails; only a shared laptop Redis may skip.
        message = "the shared Redis was never quiet for the length of one tick"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return best


def test_an_idle_tick_is_one_request_and_at_most_two_billed_commands(
    world: World, upstash: UpstashHandle
) -> None:
    run(KIND, "test", DrainOptions(batch_size=10), world.settings)  # loads the scripts
    requests, billed, by_command = _idle_tick(world, upstash)
    assert requests == 1, by_command
    assert billed <= 2, by_command


def test_after_idle_ticks_new_work_is_still_found(world: World, upstash: UpstashHandle) -> None:
    run(KIND, "test", DrainOptions(batch_size=10), world.settings)
    world.seed(users=2, per_user=3)
    stats = run(KIND, "test", DrainOptions(batch_size=10), world.settings)
    assert (stats.claimed, stats.succeeded, stats.stop_reason) == (2, 2, StopReason.EMPTY)
    assert upstash.raw.exists(world.queue.keys.pending) == 0
