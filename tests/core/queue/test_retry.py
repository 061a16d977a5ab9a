from __future__ import annotations

import random

import pytest

from core.queue.retry import Next, backoff_ceiling, backoff_seconds, next_step


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (10, 3600.0)]
)
def test_ceiling_doubles_and_is_capped(attempt: int, expected: float) -> None:
    assert backoff_ceiling(attempt, 10.0, 3600.0) == expected


def test_huge_attempt_does_not_overflow() -> None:
    assert backoff_ceiling(10_000, 10.0, 60.0) == 60.0


def test_jitter_stays_between_half_and_full_ceiling() -> None:
    rng = random.Random(7)
    delays = [backoff_seconds(3, 10.0, 3600.0, rng) for _ in range(500)]
    assert all(20.0 <= d <= 40.0 for d in delays)
    assert max(delays) - min(delays) > 10.0  # it really is spread


def test_next_step() -> None:
    assert next_step(1, 5) is Next.RETRY
    assert next_step(4, 5) is Next.RETRY
    assert next_step(5, 5) is Next.DEAD
    assert next_step(1, 5, permanent=True) is Next.DEAD
