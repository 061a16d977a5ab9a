"""The reliability suite: the `tooling.chaos` scenarios at CI sizes, on this test's own database
and queue prefix (the `app_env` fixture), against the real Postgres and Redis."""

from __future__ import annotations

import pytest

from tests.conftest import CRON_SECRET, JWT_SECRET, UpstashHandle
from tooling.chaos.env import ChaosEnv, Secrets
from tooling.chaos.result import ScenarioResult


@pytest.fixture
def chaos_env(app_env: dict[str, str], upstash: UpstashHandle, redis_server: str) -> ChaosEnv:
    return ChaosEnv(
        database_url=app_env["DATABASE_URL"],
        upstash=upstash.server,
        redis_url=redis_server,
        prefix=upstash.prefix,
        secrets=Secrets(cron=CRON_SECRET, jwt=JWT_SECRET),
    )


def assert_clean(result: ScenarioResult) -> None:
    """All-zero counts, with the scenario's own account of what went wrong otherwise."""
    assert result.ok, result.summary()
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0), result.summary()
