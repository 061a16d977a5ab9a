"""Secrets never reach a log, whichever way the app is served.

The real thing first: `uvicorn api.index:app` as a subprocess with its access log on (what
Vercel's and most hosts' Python servers print), called with `?token=` secrets and a bearer
token; none may appear in its output. Then the redaction itself, on any logger and traceback.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.base.auth import mint_token
from core.base.logs import REDACTED, install_redaction, redact
from core.base.settings import get_settings
from tests.conftest import CRON_SECRET

ROOT = Path(__file__).resolve().parents[2]
ADMIN_SECRET = "test-admin-secret-for-logs-0123456789"
WRONG_GUESS = "a-wrong-guess-that-is-nearly-the-secret-42"
PORTS = range(10400, 10500)  # helper 4's range


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 10400-10499")


def _wait_up(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"uvicorn exited: {server.communicate()[0]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not start within 30 s")


def test_uvicorn_access_log_shows_no_token_and_no_bearer(app_env: dict[str, str]) -> None:
    env = {**os.environ, **app_env, "ADMIN_SECRET": ADMIN_SECRET, "PYTHONUNBUFFERED": "1"}
    user_token = mint_token("user-alice", get_settings())
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "api.index:app", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "debug", "--access-log"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_up(f"{base}/api/health", server)
        cron = "/api/cron/process-financial-summary-queue"
        calls = [
            httpx.get(f"{base}{cron}?token={CRON_SECRET}&wait=true", timeout=30),
            httpx.get(f"{base}{cron}?max_jobs=1&token={WRONG_GUESS}", timeout=30),
            httpx.get(f"{base}/api/admin/queue?token={ADMIN_SECRET}", timeout=30),
            httpx.get(
                f"{base}/api/summary", headers={"Authorization": f"Bearer {user_token}"}, timeout=30
            ),
        ]
        assert [c.status_code for c in calls] == [200, 401, 200, 200], [c.text for c in calls]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]

    assert f"GET {cron}?token={REDACTED}" in output, output
    for secret in (
        CRON_SECRET,
        WRONG_GUESS,
        ADMIN_SECRET,
        user_token,
        app_env["UPSTASH_REDIS_REST_TOKEN"],
    ):
        assert secret not in output, f"{secret[:8]}... is in the log:\n{output}"


@pytest.fixture
def redaction(app_env: dict[str, str]) -> None:
    install_redaction([CRON_SECRET, ADMIN_SECRET])


def test_any_logger_and_any_traceback_is_scrubbed(
    redaction: None, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        log.info("GET %s", f"/api/admin/queue?format=json&token={ADMIN_SECRET}")
        log.warning("sent headers {'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig'}")
        log.error("connect postgresql+psycopg://tally:pw-in-url@db.example/tally failed")
        log.info("secret %(s)s by name", {"s": CRON_SECRET})
        try:
            raise RuntimeError(f"upstream refused token {CRON_SECRET}")
        except RuntimeError:
            log.exception("drain failed")

    text = (
        "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
        + caplog.text
    )
    for secret in (ADMIN_SECRET, CRON_SECRET, "eyJhbGciOiJIUzI1NiJ9", "pw-in-url"):
        assert secret not in text, text
    assert "drain failed" in caplog.text
    assert "RuntimeError: upstream refused token [redacted]" in caplog.text


def test_redaction_keeps_ordinary_text_and_is_linear() -> None:
    ordinary = "claimed=5 ok=4 failed=1 stop=empty missing bearer token"
    assert redact(ordinary) == ordinary
    # 100k characters of near-misses finish at once (no backtracking blow-up).
    for hostile in (
        "?token" * 20_000,
        "://a:" * 20_000,
        "authorization: " * 8_000,
        "bearer " * 15_000,
    ):
        assert len(redact(hostile)) >= len(hostile) // 2
