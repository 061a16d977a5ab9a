"""Retry policy: pure functions, tested without Redis."""

from __future__ import annotations

import enum
import random


class Next(enum.StrEnum):
    RETRY = "retry"
    DEAD = "dead"


def next_step(attempt: int, max_attempts: int, *, permanent: bool = False) -> Next:
    """What happens to a failed job: retried until it has used `max_attempts`, then dead."""
    if permanent or attempt >= max_attempts:
        return Next.DEAD
    return Next.RETRY


def backoff_ceiling(attempt: int, base_seconds: float, max_seconds: float) -> float:
    """base * 2^(attempt-1), capped: 10 s, 20 s, 40 s, ... with the defaults."""
    exponent = max(0, attempt - 1)
    # Cap the exponent first: 2**1000 is fine for ints but overflows a float multiply.
    return float(min(max_seconds, base_seconds * (2 ** min(exponent, 64))))


def backoff_seconds(
    attempt: int, base_seconds: float, max_seconds: float, rng: random.Random | None = None
) -> float:
    """Equal jitter: half the ceiling plus a random part of the other half.

    Jitter spreads retries of a batch that failed together (say, the database restarted) so they
    do not all come back in the same second; keeping half fixed guarantees a real pause.
    """
    ceiling = backoff_ceiling(attempt, base_seconds, max_seconds)
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
