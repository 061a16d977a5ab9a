"""Over HTTP, real Postgres and Redis: upload → cron → summary, then edits and deletes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api._http.app import create_app
from core.base.auth import mint_token
from core.base.settings import get_settings
from tests.conftest import CRON_SECRET, UpstashHandle
from tests.support import World

CRON = "/api/cron/process-financial-summary-queue"
STATEMENT = b"""Date,Description,Amount,Category
2025-01-03,Salary ACME,2500.00,Income
2025-01-05,Tesco Stores 3017,-54.20,Groceries
2025-01-19,Netflix.com,-15.99,Entertainment
2025-03-02,Tesco Stores 3017,-61.05,Groceries
2025-03-03,Refund Tesco,12.00,Groceries
"""


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(user, get_settings())}"}


def drain(client: TestClient) -> dict[str, object]:
    response = client.get(
        CRON, params={"wait": "true"}, headers={"Authorization": f"Bearer {CRON_SECRET}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def usd(client: TestClient, user: str) -> dict[str, object]:
    summary = client.get("/api/summary", headers=auth(user)).json()
    assert summary["stale"] is False
    assert summary["pending"] is False
    figures: dict[str, object] = summary["currencies"]["USD"]
    return figures


def test_upload_drain_summary_then_edit_and_delete(world: World) -> None:
    client = TestClient(create_app())
    before = client.get("/api/summary", headers=auth("alice")).json()
    assert before["currencies"] == {}
    upload = client.post(
        "/api/transactions/upload",
        files={"file": ("jan-mar.csv", STATEMENT, "text/csv")},
        headers=auth("alice"),
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["imported"] == 5
    pending = client.get("/api/summary", headers=auth("alice")).json()
    assert (pending["stale"], pending["pending"]) == (True, True)

    assert drain(client)["succeeded"] == 1
    figures = usd(client, "alice")
    assert figures["income_minor"] == 250000 + 1200
    assert figures["expenses_minor"] == 5420 + 1599 + 6105
    assert figures["net_minor"] == 251200 - 13124
    assert figures["transaction_count"] == 5
    assert [m["month"] for m in figures["monthly"]] == ["2025-01", "2025-02", "2025-03"]  # type: ignore[attr-defined]

    rows = client.get("/api/transactions", headers=auth("alice")).json()["items"]
    netflix = next(r for r in rows if r["description"] == "Netflix.com")
    edited = client.patch(
        f"/api/transactions/{netflix['id']}", json={"amount": "-17.99"}, headers=auth("alice")
    )
    assert edited.status_code == 200
    assert drain(client)["succeeded"] == 1
    assert usd(client, "alice")["expenses_minor"] == 5420 + 1799 + 6105

    salary = next(r for r in rows if r["description"] == "Salary ACME")
    deleted = client.delete(f"/api/transactions/{salary['id']}", headers=auth("alice"))
    assert deleted.status_code == 204
    assert drain(client)["succeeded"] == 1
    figures = usd(client, "alice")
    assert figures["income_minor"] == 1200
    assert figures["transaction_count"] == 4
    notes = world.scalar("SELECT count(*) FROM notifications WHERE user_id = 'alice'")
    assert notes == 3  # one per changed summary


def test_writes_succeed_while_upstash_fails_and_the_sweep_catches_up(
    world: World, upstash: UpstashHandle, env: pytest.MonkeyPatch
) -> None:
    env.setenv("RECONCILE_GRACE_SECONDS", "0")
    get_settings.cache_clear()
    client = TestClient(create_app())
    upstash.server.set_faults(error_rate=1.0)
    users = [f"user-{i}" for i in range(6)]
    for i, user in enumerate(users):
        created = client.post(
            "/api/transactions",
            json=[
                {"date": "2025-02-01", "amount": str(100 + i), "currency": "EUR"},
                {"date": "2025-02-02", "amount": -40 - i, "currency": "EUR"},
            ],
            headers=auth(user),
        )
        assert created.status_code == 201, created.text
    upload = client.post(
        "/api/transactions/upload",
        files={"file": ("s.csv", STATEMENT)},
        headers=auth(users[0]),
    )
    assert upload.status_code == 201
    assert upstash.stats()["errors_injected"] >= 7
    assert upstash.stats()["commands"] == 0  # nothing reached Redis

    upstash.server.clear_faults()
    stats = drain(client)
    assert stats["reconciled"] == 6
    assert stats["succeeded"] == 6
    for i, user in enumerate(users):
        eur = client.get("/api/summary", headers=auth(user)).json()
        assert eur["pending"] is False
        assert eur["currencies"]["EUR"]["net_minor"] == (10000 + 100 * i) - (40 + i)
