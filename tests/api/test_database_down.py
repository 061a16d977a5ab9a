"""The database down: every route that needs it answers 503 JSON with `Retry-After`.

Two outages, both real: a DATABASE_URL on a port where nothing listens, and a real Postgres
database that stops accepting connections (and has its open ones cut) while the app runs, then
comes back. Every operation of the OpenAPI document is called, so a new route is covered the day
it is added (give it a sample below if it needs a body).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api._http.app import create_app
from core.base.db import reset_engines
from tests.api.conftest import ALICE, bearer
from tests.conftest import CRON_SECRET, PG_HOST, PG_USER, clear_caches

CSV = b"Date,Description,Amount\n2025-01-31,Monthly account fee,-5.00\n"
# Operations that need no database: they answer whatever the queue says, or (the operator
# page) hold no figure at all.
DATABASE_FREE = {
    ("get", "/api/admin"),
    ("post", "/api/admin/dead/requeue"),
    ("post", "/api/admin/dead/purge"),
    ("post", "/api/admin/retrying/retry-now"),
}
JSON_BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/transactions"): {"date": "2025-01-31", "amount": "-5.00", "currency": "USD"},
    ("patch", "/api/transactions/{txn_id}"): {"description": "renamed"},
    ("post", "/api/admin/dead/requeue"): {"ids": []},
    ("post", "/api/admin/dead/purge"): {"ids": []},
    ("post", "/api/admin/retrying/retry-now"): {"ids": ["1"]},
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, ops in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, op in ops.items():
            found.append((method, path, op))
    return found


def _call(client: TestClient, method: str, path: str, op: dict[str, Any]) -> Response:
    url = path
    for param in op.get("parameters", []):
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", "1")
    secured = op.get("security")
    headers = bearer(ALICE) if secured else {"Authorization": f"Bearer {CRON_SECRET}"}
    kwargs: dict[str, Any] = {"headers": headers}
    if path.endswith("/upload"):
        kwargs["files"] = {"file": ("statement.csv", CSV, "text/csv")}
        kwargs["data"] = {"currency": "USD"}
    elif op.get("requestBody"):
        kwargs["json"] = JSON_BODIES.get((method, path), {})
    response: Response = client.request(method.upper(), url, **kwargs)
    return response


def _assert_unavailable(response: Response, where: str) -> None:
    assert response.status_code == 503, (where, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), where
    assert int(response.headers["retry-after"]) > 0, where
    assert isinstance(response.json(), dict), where


def test_every_route_is_503_json_with_retry_after_when_nothing_listens(
    app_env: dict[str, str], env: pytest.MonkeyPatch
) -> None:
    env.setenv(
        "DATABASE_URL", f"postgresql+psycopg://nobody:pw-not-shown@127.0.0.1:{_closed_port()}/x"
    )
    clear_caches()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        operations = _operations(client)
        assert len(operations) >= 10
        for method, path, op in operations:
            response = _call(client, method, path, op)
            where = f"{method.upper()} {path}"
            if (method, path) in DATABASE_FREE:
                assert response.status_code < 500, (where, response.text)
                continue
            _assert_unavailable(response, where)
            assert "pw-not-shown" not in response.text, where


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(host=PG_HOST, user=PG_USER, dbname="postgres", autocommit=True)


@pytest.fixture
def outage(postgres_url: str) -> Iterator[Any]:
    """Turns this test's database off (new connections refused, open ones cut) and on again."""
    name = postgres_url.rsplit("/", 1)[1]

    class Switch:
        def off(self) -> None:
            with _admin() as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )

        def on(self) -> None:
            with _admin() as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    switch = Switch()
    yield switch
    switch.on()


def test_user_routes_are_503_while_postgres_refuses_and_work_again_after(
    app_env: dict[str, str], outage: Any
) -> None:
    body = JSON_BODIES[("post", "/api/transactions")]
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        created = client.post("/api/transactions", headers=bearer(ALICE), json=body)
        assert created.status_code == 201, created.text  # the pool now holds a connection
        txn_id = created.json()["id"]

        outage.off()
        down = [
            client.get("/api/summary", headers=bearer(ALICE)),
            client.get("/api/transactions", headers=bearer(ALICE)),
            client.post("/api/transactions", headers=bearer(ALICE), json=body),
            client.patch(
                f"/api/transactions/{txn_id}", headers=bearer(ALICE), json={"category": "Fees"}
            ),
            client.delete(f"/api/transactions/{txn_id}", headers=bearer(ALICE)),
            client.get("/api/health"),
        ]
        for response in down:
            _assert_unavailable(response, str(response.request.url))

        outage.on()
        reset_engines()
        listed = client.get("/api/transactions", headers=bearer(ALICE))
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [txn_id]
        assert client.get("/api/summary", headers=bearer(ALICE)).status_code == 200
