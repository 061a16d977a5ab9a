"""The Upstash Redis client: the official SDK with a bounded timeout on every call."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from core.base.settings import Settings, get_settings

if TYPE_CHECKING:
    from upstash_redis import Redis


class QueueNotConfigured(RuntimeError):
    """UPSTASH_REDIS_REST_URL / _TOKEN (or the KV_* names) are not set."""


def make_redis(settings: Settings) -> Redis:
    if not settings.queue_configured:
        raise QueueNotConfigured("UPSTASH_REDIS_REST_URL is not set")
    # Imported here: the SDK brings httpx along, and a cold start serving a request that never
    # touches the queue (a summary read, a transaction list) should not pay for either.
    import httpx
    from upstash_redis import Redis

    client = Redis(
        url=settings.upstash_redis_rest_url,
        token=settings.upstash_redis_rest_token.get_secret_value(),
        rest_retries=settings.upstash_retries,
        rest_retry_interval=settings.upstash_retry_interval_seconds,
        allow_telemetry=False,
        # Each invocation is independent; a sync token only adds a header to every request.
        read_your_writes=False,
    )
    # The SDK builds its httpx client with no timeout at all: a hung Upstash call would eat the
    # whole function budget. Bound connect/read/write/pool on the client it already made.
    client._http._client.timeout = httpx.Timeout(settings.upstash_timeout_seconds)
    return client


@lru_cache(maxsize=4)
def _cached(url: str, token: str, timeout: float, retries: int, interval: float) -> Redis:
    return make_redis(get_settings())


def get_redis() -> Redis:
    """One client per warm function instance (its HTTP connection is reused between calls)."""
    s = get_settings()
    return _cached(
        s.upstash_redis_rest_url,
        s.upstash_redis_rest_token.get_secret_value(),
        s.upstash_timeout_seconds,
        s.upstash_retries,
        s.upstash_retry_interval_seconds,
    )
