"""The upload section's peak-memory hook, fed a server whose peak is known.

The app allocates a known amount, answers, and only then finishes (as a real route does when it
releases its session, or runs a background task after the response). The peak read right after
the answer must be that request's, not the one before it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from tooling.bench.statement_import import PEAK_PATH, TRACE_HEADER, PeakMemoryHook

KNOWN_BYTES = 24 * 1024 * 1024


async def allocating_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    block = bytearray(KNOWN_BYTES)
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})
    del block
    await asyncio.sleep(0.3)  # the request's work goes on after its answer


@pytest.fixture
def server() -> Iterator[httpx.Client]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        PeakMemoryHook(allocating_app), log_config=None, log_level="warning", access_log=False
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for _ in range(100):
            if uv.started:
                break
            threading.Event().wait(0.05)
        yield client
    uv.should_exit = True
    thread.join(timeout=10)


def test_the_peak_read_after_an_answer_is_that_requests(server: httpx.Client) -> None:
    assert server.post("/upload", headers={TRACE_HEADER: "1"}).status_code == 201
    peak = server.get(PEAK_PATH).json()["peak_bytes"]
    assert peak >= KNOWN_BYTES


def test_an_untraced_request_leaves_the_last_peak(server: httpx.Client) -> None:
    server.post("/upload", headers={TRACE_HEADER: "1"})
    first = server.get(PEAK_PATH).json()["peak_bytes"]
    server.post("/upload")
    assert server.get(PEAK_PATH).json()["peak_bytes"] == first
