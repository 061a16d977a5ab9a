"""Summary, notifications and job history as users see them; nobody sees anyone else's."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from api._http.app import create_app
from core.base.auth import mint_token
from core.base.settings import get_settings
from core.summary.figures import compute_summaries
from core.summary.shapes import Txn
from tests.conftest import CRON_SECRET
from tests.support import World

CRON = "/api/cron/process-financial-summary-queue"


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(user, get_settings())}"}


def drain(client: TestClient) -> None:
    assert (
        client.get(
            CRON, params={"wait": "true"}, headers={"Authorization": f"Bearer {CRON_SECRET}"}
        ).status_code
        == 200
    )


def add(client: TestClient, user: str, rows: list[dict[str, object]]) -> None:
    response = client.post("/api/transactions", json=rows, headers=auth(user))
    assert response.status_code == 201, response.text


def subscription_year() -> list[dict[str, object]]:
    """A recurring subscription, a gap of two months, a refund and salaries, in two currencies."""
    rows: list[dict[str, object]] = []
    for month, cents in [(1, 1599), (2, 1599), (3, 1649), (4, 1649), (7, 1699)]:
        day = f"2025-{month:02d}-14"
        rows.append(
            {
                "date": day,
                "amount": -cents,
                "currency": "USD",
                "description": f"NETFLIX.COM 866-579-{month:04d}",
                "category": "Fun",
            }
        )
        rows.append(
            {
                "date": f"2025-{month:02d}-01",
                "amount": "3200.00",
                "currency": "USD",
                "description": "ACME PAYROLL",
                "category": "Salary",
            }
        )
    rows.append(
        {
            "date": "2025-03-20",
            "amount": "-120.00",
            "currency": "USD",
            "description": "POS SHOES R US #551",
            "category": "Clothes",
        }
    )
    rows.append(
        {
            "date": "2025-03-28",
            "amount": "40.00",
            "currency": "USD",
            "description": "SHOES R US REFUND",
            "category": "Clothes",
        }
    )
    rows.append(
        {
            "date": "2025-02-10",
            "amount": "-2500",
            "currency": "JPY",
            "description": "Lawson Tokyo",
            "category": "Food",
        }
    )
    return rows


def test_summary_matches_the_figures_of_the_stored_rows(world: World) -> None:
    client = TestClient(create_app())
    add(client, "ann", subscription_year())
    drain(client)
    body = client.get("/api/summary", headers=auth("ann")).json()
    assert sorted(body["currencies"]) == ["JPY", "USD"]
    txns = [
        Txn(dt.date.fromisoformat(str(r["date"])), int(m), str(c), str(d), cat, "default")
        for r, (m, c, d, cat) in zip(
            subscription_year(),
            world.rows(
                "SELECT amount_minor, currency, description, category FROM transactions ORDER BY id"
            ),
            strict=True,
        )
    ]
    usd = body["currencies"]["USD"]
    expected = compute_summaries(txns, today=dt.date.fromisoformat(usd["as_of"]))
    assert usd == expected["USD"].model_dump(mode="json")
    assert usd["income_minor"] == 5 * 320000 + 4000
    assert usd["expenses_minor"] == 1599 * 2 + 1649 * 2 + 1699 + 12000
    assert [m["month"] for m in usd["monthly"]][:3] == ["2025-01", "2025-02", "2025-03"]
    assert any(m["count"] == 0 for m in usd["monthly"])  # May and June are empty
    recurring = [r["merchant"] for r in usd["recurring"]]
    assert len(recurring) == 1
    assert "netflix" in recurring[0].lower()
    assert usd["largest_expense"]["amount_minor"] == 12000


def test_summary_before_first_computation_is_empty_and_pending(world: World) -> None:
    client = TestClient(create_app())
    fresh = client.get("/api/summary", headers=auth("newcomer"))
    assert fresh.status_code == 200
    assert fresh.json()["currencies"] == {}
    assert fresh.json()["pending"] is False
    add(client, "newcomer", [{"date": "2025-01-01", "amount": 5, "currency": "EUR"}])
    body = client.get("/api/summary", headers=auth("newcomer")).json()
    assert (body["currencies"], body["pending"], body["stale"]) == ({}, True, True)


def test_notifications_unread_first_paginated_and_marked_read(world: World) -> None:
    client = TestClient(create_app())
    for day in range(1, 6):  # five changes, five drains: five notifications
        add(client, "bo", [{"date": f"2025-01-0{day}", "amount": -day, "currency": "USD"}])
        drain(client)
    page = client.get("/api/notifications", params={"limit": 2}, headers=auth("bo")).json()
    assert page["unread"] == 5
    assert len(page["items"]) == 2
    ids = [n["id"] for n in page["items"]]
    read = client.post(f"/api/notifications/{ids[0]}/read", headers=auth("bo"))
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/notifications", params=params, headers=auth("bo")).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5
    assert [n["read_at"] is None for n in seen] == [True, True, True, True, False]
    assert seen[-1]["id"] == ids[0]
    assert page["unread"] == 4
    assert seen[0]["title"] == "Your financial summary was updated"
    bad = client.get("/api/notifications", params={"cursor": "x"}, headers=auth("bo"))
    assert bad.status_code == 422


def test_jobs_history_newest_first(world: World) -> None:
    client = TestClient(create_app())
    for day in range(1, 4):
        add(client, "cy", [{"date": f"2025-01-0{day}", "amount": day, "currency": "USD"}])
        drain(client)
    first = client.get("/api/jobs", params={"limit": 2}, headers=auth("cy")).json()
    assert [j["status"] for j in first["items"]] == ["succeeded", "succeeded"]
    assert first["items"][0]["id"] > first["items"][1]["id"]
    assert first["items"][0]["source_version"] == 3
    rest = client.get(
        "/api/jobs", params={"cursor": first["next_cursor"]}, headers=auth("cy")
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None


def test_nobody_sees_or_touches_anyone_elses_summary_jobs_or_notifications(world: World) -> None:
    client = TestClient(create_app())
    add(client, "dee", [{"date": "2025-01-01", "amount": "-9.99", "currency": "USD"}])
    drain(client)
    dee_note = client.get("/api/notifications", headers=auth("dee")).json()["items"][0]["id"]
    eve = auth("eve")
    assert client.get("/api/summary", headers=eve).json()["currencies"] == {}
    assert client.get("/api/jobs", headers=eve).json()["items"] == []
    assert client.get("/api/notifications", headers=eve).json()["items"] == []
    stolen = client.post(f"/api/notifications/{dee_note}/read", headers=eve)
    assert stolen.status_code == 404
    assert world.scalar("SELECT read_at FROM notifications WHERE id = :i", i=dee_note) is None
    for path in ("/api/summary", "/api/jobs", "/api/notifications"):
        assert client.get(path).status_code == 401
