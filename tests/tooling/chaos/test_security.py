"""Scenario 7: the auth matrix of every route, cross-user access on every user route, secrets
never in logs or answers, body limits on every route, and a schemathesis run with and without
a token. Route coverage comes from the OpenAPI document, so a new route cannot slip through.

tests/api/test_auth.py and tests/api/test_cron.py test the many kinds of bad credentials on a
few routes; this covers every route with a few kinds.
"""

from __future__ import annotations

import pytest

from api._http.app import create_app
from tests.conftest import CRON_SECRET, JWT_SECRET, UPSTASH_TOKEN
from tests.tooling.chaos.conftest import assert_clean
from tooling.chaos.env import ChaosEnv
from tooling.chaos.security import SecuritySize, run_security

# 25 generated requests per operation and mode (valid and invalid data), with a user token and
# without one: about 1,300 fuzz cases over the 15 operations.
CI_SIZE = SecuritySize(fuzz_examples=25)


def test_nobody_gets_in_and_nothing_leaks(
    chaos_env: ChaosEnv, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("DEBUG")

    result = run_security(chaos_env, CI_SIZE, create_app)

    print(result.summary())
    assert_clean(result)
    assert result.details["user_routes"] >= 9
    assert result.details["cross_user_probes"] >= result.details["user_routes"]
    assert result.details["fuzz_cases"] > 500
    # The scenario searched its own capture; pytest's view of the same run must agree.
    seen = caplog.text + "".join(capfd.readouterr())
    for secret in (CRON_SECRET, JWT_SECRET, UPSTASH_TOKEN):
        assert secret not in seen


HUGE = "99999999999999999999"
# Inputs the schema allows (or only half rules out) that reached PostgreSQL and failed there:
# ids and cursors beyond BIGINT, and the NUL character, which PostgreSQL text cannot hold.
HOSTILE: list[tuple[str, str, dict[str, str], object]] = [
    ("POST", f"/api/notifications/{HUGE}/read", {}, None),
    ("GET", "/api/jobs", {"cursor": HUGE}, None),
    ("GET", "/api/notifications", {"cursor": f"0.{HUGE}"}, None),
    ("GET", "/api/notifications", {"cursor": f"{HUGE}.1"}, None),
    ("GET", "/api/transactions", {"q": "a\x00b"}, None),
    ("GET", "/api/transactions", {"category": "a\x00b"}, None),
    (
        "POST",
        "/api/transactions",
        {},
        {"date": "2025-01-01", "amount": "-1.00", "currency": "USD", "description": "a\x00b"},
    ),
    (
        "POST",
        "/api/transactions",
        {},
        {"date": "2025-01-01", "amount": "-1.00", "currency": "USD", "category": "\x00"},
    ),
]


@pytest.mark.parametrize(("method", "path", "params", "body"), HOSTILE)
def test_hostile_ids_cursors_and_text_are_refused_not_server_errors(
    app_env: dict[str, str], method: str, path: str, params: dict[str, str], body: object
) -> None:
    from fastapi.testclient import TestClient

    from tooling.chaos.security import bearer

    client = TestClient(create_app(), raise_server_exceptions=False)

    response = client.request(method, path, params=params, json=body, headers=bearer("eve"))

    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)  # the documented 422 shape
