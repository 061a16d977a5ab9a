"""Uploads as resources: list them, delete one, and the user's rows and summary are exactly as
before that upload. Real Postgres and Redis."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from core.drain.runner import DrainOptions, run
from functions import get_kind
from tests.api.conftest import ALICE, BOB, bearer
from tests.support import World

UPLOAD = "/api/transactions/upload"
FIRST = b"Date,Description,Amount\n2025-01-03,RENT,-1200.00\n2025-01-15,SALARY,3000.00\n"
SECOND = (
    b"Date,Description,Amount\n"
    b"2025-01-15,SALARY,3000.00\n"  # a duplicate of FIRST's row: FIRST keeps it
    b"2025-02-02,COFFEE HOUSE 12,-4.50\n2025-03-09,GROCER,-81.20\n"
)


def upload(client: TestClient, data: bytes, user: str = ALICE) -> dict[str, Any]:
    response = client.post(
        UPLOAD,
        headers=bearer(user),
        files={"file": ("s.csv", data, "text/csv")},
        data={"currency": "USD", "account": "Checking"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def drained(world: World) -> None:
    run(get_kind("financial-summary"), "test", DrainOptions(), world.settings)


def state(world: World, client: TestClient) -> tuple[list[Any], dict[str, Any]]:
    drained(world)
    rows = world.rows(
        "SELECT date, amount_minor, description, statement_id FROM transactions"
        " WHERE user_id = :u ORDER BY date, id",
        u=ALICE,
    )
    summary = client.get("/api/summary", headers=bearer(ALICE)).json()
    figures = {c: {k: v for k, v in s.items()} for c, s in summary["currencies"].items()}
    return [tuple(r) for r in rows], figures


def test_upload_list_delete_leaves_rows_and_summary_as_before(
    client: TestClient, world: World
) -> None:
    first = upload(client, FIRST)
    before = state(world, client)
    second = upload(client, SECOND)
    assert (second["imported"], second["skipped"]) == (2, 1)

    listed = client.get("/api/statements", headers=bearer(ALICE)).json()
    assert [s["id"] for s in listed] == [second["statement_id"], first["statement_id"]]
    assert listed[0]["accounts"] == ["Checking"]
    assert (listed[0]["imported"], listed[0]["skipped"], listed[0]["transactions"]) == (2, 1, 2)
    assert client.get("/api/statements", headers=bearer(BOB)).json() == []

    # Another user cannot delete it (nor tell it exists).
    other = client.delete(f"/api/statements/{second['statement_id']}", headers=bearer(BOB))
    assert other.status_code == 404
    gone = client.delete(f"/api/statements/{second['statement_id']}", headers=bearer(ALICE))
    assert gone.status_code == 204
    assert state(world, client) == before
    again = client.delete(f"/api/statements/{second['statement_id']}", headers=bearer(ALICE))
    assert again.status_code == 204  # idempotent
    assert state(world, client) == before
    listed = client.get("/api/statements", headers=bearer(ALICE)).json()
    assert [s["id"] for s in listed] == [first["statement_id"]]
    assert client.delete("/api/statements/999999", headers=bearer(ALICE)).status_code == 404


def test_deleting_a_statement_enqueues_the_user(client: TestClient, world: World) -> None:
    sent = upload(client, FIRST)
    drained(world)
    assert world.queue.stats().pending == 0
    client.delete(f"/api/statements/{sent['statement_id']}", headers=bearer(ALICE))
    assert world.queue.stats().pending == 1
    drained(world)
    summary = client.get("/api/summary", headers=bearer(ALICE)).json()
    assert summary["stale"] is False
    assert summary["currencies"] == {}


def test_a_file_naming_no_currency_is_refused_unless_one_is_given(
    client: TestClient, world: World, env: Any
) -> None:
    env.delenv("DEFAULT_CURRENCY")
    from core.base.settings import get_settings

    get_settings.cache_clear()
    files = {"file": ("s.csv", FIRST, "text/csv")}
    refused = client.post(UPLOAD, headers=bearer(ALICE), files=files)
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["errors"]
    assert problem["column"] == "currency"
    assert "names no currency" in problem["reason"]
    assert "currency=EUR" in problem["reason"]
    assert "DEFAULT_CURRENCY" in problem["reason"]
    assert world.scalar("SELECT count(*) FROM transactions") == 0
    # With the form's currency it is accepted, and the answer says what it assumed.
    taken = client.post(UPLOAD, headers=bearer(ALICE), files=files, data={"currency": "eur"})
    assert taken.status_code == 201, taken.text
    assert (taken.json()["currency"], taken.json()["date_order"]) == ("EUR", None)
    # A file whose rows name their currency needs neither.
    own = b"Date,Description,Amount,Currency\n2025-01-03,RENT,-1200.00,GBP\n"
    named = client.post(UPLOAD, headers=bearer(BOB), files={"file": ("n.csv", own, "text/csv")})
    assert named.status_code == 201, named.text
    assert named.json()["currency"] is None
