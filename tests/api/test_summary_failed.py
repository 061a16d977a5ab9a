"""A dead-lettered user's summary reads as failed, not as pending forever.

`GET /api/summary` of a user whose job was dead-lettered says `pending: false`, `state: failed`,
the last error with every secret scrubbed, and how the job is requeued (an operator action).
A write of the user's own queues the job again: pending once more.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from core.queue import Failure
from tests.api.conftest import ALICE, bearer
from tests.conftest import CRON_SECRET, UpstashHandle
from tests.support import World

TXN = {"date": "2025-01-31", "amount": "-5.00", "currency": "USD", "description": "Fee"}


def summary(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/summary", headers=bearer(ALICE))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def kill(world: World, error: str) -> None:
    claim = world.queue.claim(10)
    assert [job.id for job in claim.jobs] == [ALICE]
    world.queue.settle(claim, failed=[Failure(id=ALICE, error=error, permanent=True)])


def test_a_dead_letter_reads_as_failed_with_the_error_and_how_to_requeue(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    assert client.post("/api/transactions", headers=bearer(ALICE), json=TXN).status_code == 201
    assert summary(client)["pending"] is True
    assert summary(client)["state"] == "pending"
    leaked = f"OverflowError: bigint out of range token={upstash.token} cron={CRON_SECRET}"
    kill(world, leaked)

    body = summary(client)

    assert body["pending"] is False
    assert body["stale"] is True
    assert body["state"] == "failed"
    failure = body["failure"]
    assert "bigint out of range" in failure["error"]
    assert upstash.token not in str(body)
    assert CRON_SECRET not in str(body)
    assert failure["attempts"] >= 1
    assert failure["failed_at"]
    assert "--requeue-dead" in failure["how_to_retry"]
    assert "/api/admin/dead/requeue" in failure["how_to_retry"]


def test_a_new_write_after_the_dead_letter_is_pending_again(
    client: TestClient, world: World
) -> None:
    assert client.post("/api/transactions", headers=bearer(ALICE), json=TXN).status_code == 201
    kill(world, "ValueError: broken")
    assert summary(client)["state"] == "failed"

    assert client.post("/api/transactions", headers=bearer(ALICE), json=TXN).status_code == 201

    body = summary(client)
    assert (body["state"], body["pending"], body["failure"]) == ("pending", True, None)


def test_a_summary_with_nothing_due_is_current(client: TestClient) -> None:
    body = summary(client)

    assert (body["state"], body["pending"], body["failure"]) == ("current", False, None)


def test_the_queue_down_leaves_the_summary_readable_as_pending(
    client: TestClient, upstash: UpstashHandle
) -> None:
    assert client.post("/api/transactions", headers=bearer(ALICE), json=TXN).status_code == 201
    upstash.server.set_faults(error_rate=1.0)

    body = summary(client)

    assert (body["state"], body["pending"]) == ("pending", True)
