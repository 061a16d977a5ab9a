"""After-response kicks over HTTP: every write brings the summary up to date once it has
answered, and nothing the kick does can change that answer. Real Postgres and Redis.

The test client runs a response's background tasks before it hands the response back, so
"after the request" below means the kick has finished.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import core.drain.kick as kick_module
from api._http.app import create_app
from core.base.settings import Settings, get_settings
from tests.api.conftest import ALICE, bearer, pending_ids
from tests.conftest import CRON_SECRET, UpstashHandle
from tests.support import World

CRON = "/api/cron/process-financial-summary-queue"
STATEMENT = b"Date,Description,Amount\n2025-01-03,Salary,2500.00\n2025-01-05,Tesco,-54.20\n"


@pytest.fixture
def kicking(world: World, env: pytest.MonkeyPatch) -> Iterator[TestClient]:
    env.setenv("KICK_AFTER_WRITE", "true")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client


def summary(client: TestClient, user: str = ALICE) -> dict[str, object]:
    body: dict[str, object] = client.get("/api/summary", headers=bearer(user)).json()
    return body


def kick_jobs(world: World) -> int:
    return int(world.scalar("SELECT count(*) FROM background_jobs WHERE trigger = 'kick'"))


def test_a_create_is_fresh_with_no_cron_call(
    kicking: TestClient, world: World, upstash: UpstashHandle
) -> None:
    created = kicking.post(
        "/api/transactions",
        json={"date": "2025-01-02", "amount": "-12.50", "currency": "USD"},
        headers=bearer(ALICE),
    )
    assert created.status_code == 201
    body = summary(kicking)
    assert body["stale"] is False
    assert body["pending"] is False
    assert body["currencies"]["USD"]["net_minor"] == -1250  # type: ignore[index]
    assert kick_jobs(world) == 1
    assert pending_ids(upstash) == []


def test_edits_deletes_and_uploads_kick_too(kicking: TestClient, world: World) -> None:
    txn = kicking.post(
        "/api/transactions",
        json={"date": "2025-01-02", "amount": "-12.50", "currency": "USD"},
        headers=bearer(ALICE),
    ).json()
    patched = kicking.patch(
        f"/api/transactions/{txn['id']}", json={"amount": "-20.00"}, headers=bearer(ALICE)
    )
    assert patched.status_code == 200
    assert summary(kicking)["currencies"]["USD"]["net_minor"] == -2000  # type: ignore[index]
    deleted = kicking.delete(f"/api/transactions/{txn['id']}", headers=bearer(ALICE))
    assert deleted.status_code == 204
    assert summary(kicking)["stale"] is False
    uploaded = kicking.post(
        "/api/transactions/upload",
        files={"file": ("s.csv", STATEMENT)},
        data={"currency": "USD"},
        headers=bearer(ALICE),
    )
    assert uploaded.status_code == 201
    body = summary(kicking)
    assert body["stale"] is False
    assert body["currencies"]["USD"]["net_minor"] == 250000 - 5420  # type: ignore[index]
    assert kick_jobs(world) == 4


def test_a_kick_that_raises_changes_nothing_in_the_answer(
    kicking: TestClient, world: World, upstash: UpstashHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kick exploded")

    monkeypatch.setattr(kick_module, "kick", boom)
    created = kicking.post(
        "/api/transactions",
        json={"date": "2025-01-02", "amount": "-12.50", "currency": "USD"},
        headers=bearer(ALICE),
    )
    assert created.status_code == 201
    assert created.json()["amount_minor"] == -1250
    assert pending_ids(upstash) == [ALICE]  # still queued: the cron catches up
    drained = kicking.get(
        CRON, params={"wait": "true"}, headers={"Authorization": f"Bearer {CRON_SECRET}"}
    )
    assert drained.json()["succeeded"] == 1
    assert summary(kicking)["stale"] is False


def test_queue_down_the_write_is_201_and_the_sweep_catches_up(
    kicking: TestClient, world: World, upstash: UpstashHandle, env: pytest.MonkeyPatch
) -> None:
    env.setenv("RECONCILE_GRACE_SECONDS", "0")
    get_settings.cache_clear()
    upstash.server.set_faults(error_rate=1.0)
    created = kicking.post(
        "/api/transactions",
        json={"date": "2025-01-02", "amount": "-12.50", "currency": "USD"},
        headers=bearer(ALICE),
    )
    assert created.status_code == 201
    assert summary(kicking)["stale"] is True
    assert kick_jobs(world) == 0
    upstash.server.clear_faults()
    drained = kicking.get(
        CRON, params={"wait": "true"}, headers={"Authorization": f"Bearer {CRON_SECRET}"}
    )
    assert drained.json()["reconciled"] == 1
    assert summary(kicking)["stale"] is False


def test_kicks_can_be_turned_off(
    world: World, env: pytest.MonkeyPatch, upstash: UpstashHandle
) -> None:
    env.setenv("KICK_AFTER_WRITE", "false")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        client.post(
            "/api/transactions",
            json={"date": "2025-01-02", "amount": "-12.50", "currency": "USD"},
            headers=bearer(ALICE),
        )
    assert pending_ids(upstash) == [ALICE]
    assert kick_jobs(world) == 0


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, True),
        ({"VERCEL": "1", "AWS_LAMBDA_FUNCTION_NAME": "tally"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "tally"}, False),  # Mangum waits for background tasks
        ({"AWS_LAMBDA_FUNCTION_NAME": "tally", "KICK_AFTER_WRITE": "true"}, True),
        ({"KICK_AFTER_WRITE": "false"}, False),
    ],
)
def test_kicks_default_on_except_on_plain_lambda(
    env: pytest.MonkeyPatch, environment: dict[str, str], expected: bool
) -> None:
    for name, value in environment.items():
        env.setenv(name, value)
    assert Settings().kick_enabled is expected
    assert Settings().kick_budget_seconds == 5
