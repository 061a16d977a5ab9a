from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api._http.app import create_app
from tests.conftest import UpstashHandle


def test_health_ok_with_database_and_queue(app_env: dict[str, str]) -> None:
    response = TestClient(create_app()).get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["queue"]["ok"] is True


def test_health_503_names_the_queue_when_it_is_down(
    app_env: dict[str, str], env: pytest.MonkeyPatch
) -> None:
    env.setenv("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9")  # nothing listens on discard
    response = TestClient(create_app()).get("/api/health")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["queue"]["ok"] is False
    assert "queue" in checks["queue"]["detail"]


def test_health_503_names_the_database_when_it_is_down(
    app_env: dict[str, str], env: pytest.MonkeyPatch
) -> None:
    env.setenv("DATABASE_URL", "postgresql+psycopg://nobody:pw-not-shown@127.0.0.1:9/none")
    response = TestClient(create_app()).get("/api/health")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is False
    assert checks["queue"]["ok"] is True
    assert "pw-not-shown" not in response.text


def test_health_queue_fault_is_reported(app_env: dict[str, str], upstash: UpstashHandle) -> None:
    upstash.server.set_faults(error_rate=1.0)
    response = TestClient(create_app()).get("/api/health")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"]["ok"] is False


def test_openapi_docs_are_served(app_env: dict[str, str]) -> None:
    client = TestClient(create_app())
    assert client.get("/docs").status_code == 200
    assert "/api/health" in client.get("/openapi.json").json()["paths"]
