"""Text the database cannot store is refused with a 422 (or 401 for a token), never a 500."""

from __future__ import annotations

import time

import jwt
from fastapi.testclient import TestClient

from api._http.app import create_app
from core.base.auth import mint_token
from core.base.settings import get_settings
from tests.conftest import JWT_SECRET
from tests.support import World

# A lone surrogate: valid JSON, no UTF-8 form.
LONE_SURROGATE = (
    '{"date": "2025-01-01", "amount": 1, "currency": "USD", "description": "caf\\ud800"}'
)


def test_lone_surrogate_in_a_description_is_422(world: World) -> None:
    client = TestClient(create_app())
    token = mint_token("text-user", get_settings())
    response = client.post(
        "/api/transactions",
        content=LONE_SURROGATE,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "string_unicode"
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def test_lone_surrogate_in_a_token_subject_is_401(world: World) -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "bad\ud800", "exp": now + 60}, JWT_SECRET, algorithm="HS256")
    response = TestClient(create_app()).get(
        "/api/summary", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
