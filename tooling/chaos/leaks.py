"""Scenario 7, its secret-leak half: no secret in any log line, traceback, answer or drain output.

`check_secrets` breaks the queue and the database in turn (`breakages`), serves the app behind a
real uvicorn so its own error log counts, takes every error path, and searches all that was
written for the planted secrets. `Recorder` keeps every answer the other checks of
`tooling.chaos.security` saw, so those are searched too.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from httpx import Response
from sqlalchemy.engine import make_url

from core.base.auth import mint_token
from core.base.settings import get_settings
from tooling.chaos.env import DRAIN_SCRIPT, child_environ, scoped_environ
from tooling.chaos.result import ScenarioResult

DATABASE_PASSWORD = "chaos-db-password-0123456789abcdef"  # noqa: S105 - planted to be searched for


@dataclass
class Recorder:
    """Every response seen, for the secret scan; a count of requests for the report."""

    texts: list[str] = field(default_factory=list)
    requests: int = 0

    def keep(self, response: Response) -> Response:
        self.requests += 1
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.texts.append(f"{response.status_code}\n{headers}\n{response.text}")
        return response


class _Capture(logging.Handler):
    """Every record at any level, formatted with its traceback, as a log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    root = logging.getLogger()
    handler = _Capture()
    level = root.level
    # The root logger goes down to DEBUG for the capture; the handlers already on it (the
    # console's) keep printing only what they printed before.
    others = {h: h.level for h in root.handlers}
    for other in others:
        other.setLevel(max(other.level, level))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for other, previous in others.items():
            other.setLevel(previous)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The app behind a real uvicorn (its own error log and tracebacks included), in a thread."""
    import uvicorn

    from tooling.upstash_local.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    # log_config=None: uvicorn's loggers propagate to the root logger, which is captured.
    config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start under uvicorn")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Breakage:
    """One way the system is broken, and the requests that then take the error paths."""

    name: str
    env: dict[str, str]
    requests: tuple[tuple[str, str, dict[str, str]], ...]


def breakages(values: dict[str, str], cron: str) -> list[Breakage]:
    dead_db = make_url(values["DATABASE_URL"]).set(port=_closed_port())
    user = {"Authorization": f"Bearer {mint_token('user-carol', get_settings())}"}
    wrong = {"Authorization": "Bearer wrong-secret"}
    # Synchronous runs: their answers carry the errors that must not leak a secret.
    cron_path = "/api/cron/process-financial-summary-queue?wait=true"
    everyday: tuple[tuple[str, str, dict[str, str]], ...] = (
        ("GET", "/api/health", {}),
        ("GET", "/api/summary", user),
        ("POST", "/api/transactions", user),
        ("GET", cron_path, {"Authorization": f"Bearer {cron}"}),
        ("GET", cron_path, wrong),
        ("GET", f"{cron_path}&token=wrong-secret", {}),
        ("GET", "/api/summary", {"Authorization": f"Bearer {jwt.encode({'sub': 'x'}, 'k' * 40)}"}),
    )
    return [
        Breakage("working", {}, everyday),
        Breakage(
            "upstash down",
            {"UPSTASH_REDIS_REST_URL": f"http://127.0.0.1:{_closed_port()}"},
            everyday,
        ),
        Breakage(
            "upstash refuses the token",
            {"UPSTASH_REDIS_REST_TOKEN": "not-the-token-0123456789"},
            everyday,
        ),
        Breakage("database down", {"DATABASE_URL": dead_db.render_as_string(False)}, everyday),
    ]


def check_secrets(
    result: ScenarioResult,
    values: dict[str, str],
    secrets: dict[str, str],
    app_factory: Callable[[], Any],
    drain_cli: Callable[[dict[str, str]], str],
    rec: Recorder,
) -> None:
    """Break the queue and the database in turn, take every error path, and search every log
    line, traceback, answer and drain output for the secrets."""
    body = {"date": "2025-01-01", "amount": "-1.00", "currency": "USD"}
    outputs: list[str] = []
    with captured_logs() as lines:
        for breakage in breakages(values, secrets["CRON_SECRET"]):
            broken = {**values, **breakage.env}
            with (
                scoped_environ(broken),
                served(app_factory()) as base,
                httpx.Client(base_url=base, timeout=30) as http,
            ):
                for method, path, headers in breakage.requests:
                    json_body = body if method == "POST" else None
                    try:
                        rec.keep(http.request(method, path, headers=headers, json=json_body))
                    except httpx.TransportError as exc:  # a server error may close the line
                        rec.texts.append(f"{method} {path}: {exc!r}")
            outputs.append(drain_cli(broken))
    corpus = {
        "logs": "\n".join(lines),
        "answers": "\n".join(rec.texts),
        "drains": "\n".join(outputs),
    }
    for where, text in corpus.items():
        for name, secret in secrets.items():
            if secret and secret in text:
                result.problem(f"{name} appears in the {where}")
    result.details["log_lines_scanned"] = len(lines)
    result.details["answers_scanned"] = len(rec.texts)


def drain_cli_output(values: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, str(DRAIN_SCRIPT), "--json"],
        env=child_environ(values),
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr
