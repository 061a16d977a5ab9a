"""The app under uvicorn in a child process, as Vercel's Python runtime serves it.

A section that needs what only a real server does (a request body read off a socket in pieces,
a background task that runs after the response has gone out) starts one with `child_server`:
the child prints its port once the app is built, serves until it is sent SIGTERM, and reads its
settings from the environment the benchmark set, plus what the section adds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.upstash_local.server import bind_socket

if TYPE_CHECKING:
    import httpx
    from starlette.types import ASGIApp

ROOT = Path(__file__).resolve().parents[2]
# The plain app; a section with its own ASGI wrapper passes a snippet that builds it.
APP_SNIPPET = "from tooling.bench.server import serve_app; serve_app()"
TIMEOUT_SECONDS = 120.0


def serve(app: ASGIApp) -> None:
    """Serve `app` on a free local port, printed first; returns when uvicorn shuts down."""
    import uvicorn

    # A TCP socket asyncio sets TCP_NODELAY on (else each answer waits ~40 ms for an ACK).
    listener = bind_socket("127.0.0.1", 0)
    print(listener.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])


def serve_app() -> None:
    from api._http.app import create_app

    serve(create_app())


@contextmanager
def child_server(
    snippet: str = APP_SNIPPET, extra_env: Mapping[str, str] | None = None
) -> Iterator[httpx.Client]:
    """A client of the server `snippet` starts in a child process, which is stopped on exit."""
    import httpx

    process = subprocess.Popen(  # noqa: S603 - our own interpreter with a fixed snippet
        [sys.executable, "-c", snippet],
        cwd=ROOT,
        # The benchmark's settings (database, queue, secrets), and the section's own.
        env={**os.environ, **(extra_env or {})},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the app server did not start (exit code {process.wait()})")
        base_url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as client:
            yield client
    finally:
        process.terminate()  # uvicorn shuts down cleanly on SIGTERM
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
