"""The Lambda entry end to end, against real Postgres and Redis: HTTP through Mangum, and the
EventBridge schedule straight into the drain. Events are shaped as AWS delivers them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from api._lambda import (
    BODY_PIECE_BYTES,
    LAMBDA_SAFETY_MARGIN_SECONDS,
    handler,
    is_scheduled,
    schedule_budget_seconds,
)
from core.base.settings import Settings
from tests.conftest import CRON_SECRET
from tests.support import World

ROOT = Path(__file__).resolve().parents[2]
CRON = "/api/cron/process-financial-summary-queue"
API_HOST = "r2d2c3po4u.execute-api.eu-west-1.amazonaws.com"


class FakeContext:
    """What Lambda passes as `context`, with a clock that runs down like the real one."""

    def __init__(self, remaining_ms: int) -> None:
        self.function_name = "tally-drain"
        self.aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_api_event(
    path: str, headers: dict[str, str] | None = None, query: str = ""
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) GET, as a function URL also sends it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "*/*",
            "content-length": "0",
            "host": API_HOST,
            "user-agent": "curl/8.5.0",
            "x-amzn-trace-id": "Root=1-6748e5a1-0a1b2c3d4e5f60718293a4b5",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r2d2c3po4u",
            "domainName": API_HOST,
            "domainPrefix": "r2d2c3po4u",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "CxLbAgVxoAMEbTg=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2025:21:04:05 +0000",
            "timeEpoch": 1764363845123,
        },
        "isBase64Encoded": False,
    }


SCHEDULED_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2025-11-28T21:10:00Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:events:eu-west-1:123456789012:rule/tally-drain-every-10-minutes"],
    "detail": {},
}


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    assert response["isBase64Encoded"] is False
    data: dict[str, Any] = json.loads(response["body"])
    return data


def expected_income(world: World, user: str) -> dict[str, int]:
    """Income per currency, as the summary should report it (0 for a currency with none)."""
    totals: dict[str, int] = defaultdict(int)
    for row in world.expected[user]:
        totals[row.currency] += max(row.amount_minor, 0)
    return dict(totals)


def stored_income(world: World, user: str) -> dict[str, int]:
    rows = world.rows(
        "SELECT currency, income_minor FROM financial_summaries WHERE user_id = :u", u=user
    )
    return {currency: int(income) for currency, income in rows}


def test_http_health_through_mangum(world: World) -> None:
    response = handler(http_api_event("/api/health"), FakeContext(30_000))
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "queue": True,
    }


def test_http_cron_with_bearer_drains(world: World) -> None:
    users = world.seed(users=12, per_user=6)
    event = http_api_event(CRON, {"authorization": f"Bearer {CRON_SECRET}"})
    response = handler(event, FakeContext(30_000))
    assert response["statusCode"] == 200, response["body"]
    body = body_of(response)
    assert (body["trigger"], body["claimed"], body["succeeded"]) == ("cron", 12, 12)
    assert body["remaining"] == 0
    for user in users:
        assert stored_income(world, user) == expected_income(world, user)


def test_http_cron_without_the_secret_is_refused(world: World) -> None:
    world.seed(users=2, per_user=1)
    for headers in ({}, {"authorization": "Bearer not-the-secret"}):
        response = handler(http_api_event(CRON, headers), FakeContext(30_000))
        assert response["statusCode"] == 401
        assert CRON_SECRET not in response["body"]
    assert world.queue.stats().pending == 2


def test_scheduled_event_computes_the_summaries(world: World) -> None:
    users = world.seed(users=25, per_user=8, seed=7)
    assert is_scheduled(SCHEDULED_EVENT)
    result = handler(SCHEDULED_EVENT, FakeContext(60_000))
    assert result["trigger"] == "lambda"
    assert (result["claimed"], result["succeeded"], result["failed"]) == (25, 25, 0)
    assert (result["stop_reason"], result["remaining"]) == ("empty", 0)
    json.dumps(result)  # what Lambda returns must serialise
    for user in users:
        assert stored_income(world, user) == expected_income(world, user)
    assert world.scalar("SELECT count(*) FROM users WHERE summary_dirty_since IS NOT NULL") == 0
    runs = world.rows("SELECT trigger, claimed FROM drain_runs")
    assert [tuple(r) for r in runs] == [("lambda", 25)]


def test_scheduled_event_with_no_time_left_loses_nothing(world: World) -> None:
    world.seed(users=5, per_user=2)
    # Less than the safety margin left: the budget is zero, so nothing is claimed.
    result = handler(SCHEDULED_EVENT, FakeContext(int(LAMBDA_SAFETY_MARGIN_SECONDS * 1000) - 1))
    assert (result["claimed"], result["stop_reason"], result["remaining"]) == (0, "deadline", 5)
    stats = world.queue.stats()
    assert (stats.pending, stats.leased) == (5, 0)


def test_budget_is_the_remaining_time_less_the_margin() -> None:
    assert schedule_budget_seconds(60_000) == pytest.approx(60 - LAMBDA_SAFETY_MARGIN_SECONDS)
    assert schedule_budget_seconds(1_000) == 0.0
    # A 15-minute function gets nearly 15 minutes: the cron endpoint's cap does not apply.
    fifteen_minutes = schedule_budget_seconds(900_000)
    assert fifteen_minutes > Settings.model_fields["drain_max_budget_seconds"].default
    assert fifteen_minutes == pytest.approx(900 - LAMBDA_SAFETY_MARGIN_SECONDS)


def test_only_eventbridge_events_are_schedules() -> None:
    assert not is_scheduled(http_api_event("/api/health"))
    assert not is_scheduled({"source": "aws.s3", "detail-type": "Object Created"})


def test_cold_start_loads_only_what_the_event_needs(world: World) -> None:
    """Importing the handler loads no framework; a scheduled run never loads FastAPI."""
    probe = (
        "import sys, json\n"
        "import api._lambda as h\n"
        "heavy = ('fastapi', 'mangum', 'sqlalchemy')\n"
        "loaded_at_import = sorted(m for m in heavy if m in sys.modules)\n"
        "class C:\n"
        "    function_name = 'probe'; aws_request_id = 'probe'\n"
        "    def get_remaining_time_in_millis(self): return 30000\n"
        "result = h.handler({'source': 'aws.events', 'detail-type': 'Scheduled Event'}, C())\n"
        "print(json.dumps({'import': loaded_at_import, 'fastapi': 'fastapi' in sys.modules,\n"
        "                  'mangum': 'mangum' in sys.modules, 'stop': result['stop_reason']}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"import": [], "fastapi": False, "mangum": False, "stop": "empty"}


def test_http_upload_through_mangum_arrives_in_pieces(world: World) -> None:
    """A statement larger than one 64 KiB piece, sent as API Gateway sends it (base64 body)."""
    import base64

    from core.base.auth import mint_token
    from core.base.settings import get_settings

    rows = "".join(f"2025-01-{1 + i % 28:02d},Shop {i},-{1 + i % 90}.25\n" for i in range(6000))
    csv = ("Date,Description,Amount\n" + rows).encode()
    assert len(csv) > 2 * BODY_PIECE_BYTES
    boundary = "tallyboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{boundary}--\r\n".encode()
    )
    token = mint_token("lambda-uploader", get_settings())
    event = http_api_event(
        "/api/transactions/upload",
        headers={
            "authorization": f"Bearer {token}",
            "content-type": f"multipart/form-data; boundary={boundary}",
            "content-length": str(len(body)),
        },
    )
    event["requestContext"]["http"]["method"] = "POST"
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    response = handler(event, FakeContext(30_000))
    assert response["statusCode"] == 201, response["body"]
    assert body_of(response)["imported"] == 6000
    count = world.scalar("SELECT count(*) FROM transactions WHERE user_id = 'lambda-uploader'")
    assert count == 6000
