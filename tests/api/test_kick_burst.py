"""Bursts of writes under a real server: the kicks coalesce and the last write wins.

The test client runs each response's background task before the next request, so nothing could
coalesce there; here uvicorn serves the app in a thread, as `make dev` does, and the kicks run
while later writes arrive. Real Postgres and Redis.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from api._http.app import create_app
from core.base.settings import get_settings
from tests.api.conftest import ALICE, bearer
from tests.support import World

# This helper's ports (see the coordination notes): one free one is picked.
PORTS = range(10650, 10700)
BURST = 50
GAP_SECONDS = 0.04  # one client's writes spread over two seconds
# Bounds the waiting for the kicks to finish, not what is measured: the test never times anything.
SETTLE_SECONDS = 30.0


def _socket() -> socket.socket:
    for port in PORTS:
        # IPPROTO_TCP: asyncio sets TCP_NODELAY only then (else each answer waits ~40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        return sock
    raise RuntimeError("no free port in this helper's range")


@contextmanager
def serve() -> Iterator[str]:
    sock = _socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def settled(world: World) -> bool:
    """The summary reflects the last write and no kick holds the user any more."""
    row = world.rows("SELECT data_version, summary_version FROM users WHERE id = :id", id=ALICE)
    claims = world.queue.stats().claims
    return bool(row) and row[0][1] == row[0][0] and claims == 0


@pytest.mark.parametrize("shape", ["concurrent", "one_at_a_time"])
def test_fifty_writes_cost_at_most_three_computations_and_end_fresh(
    world: World, env: pytest.MonkeyPatch, shape: str
) -> None:
    """Eight writers at once, or one client writing every 20 ms for a second (each kick would
    be done before the next write arrives, unless it stays to see whether more are coming)."""
    env.setenv("KICK_AFTER_WRITE", "true")
    get_settings.cache_clear()
    headers = bearer(ALICE)
    with serve() as base, httpx.Client(base_url=base, timeout=30) as client:

        def write(i: int) -> int:
            body = {"date": "2025-01-02", "amount": -(i + 1), "currency": "USD"}
            return client.post("/api/transactions", json=body, headers=headers).status_code

        if shape == "concurrent":
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(write, range(BURST)))
        else:
            start = time.monotonic()
            statuses = []
            for i in range(BURST):
                time.sleep(max(0.0, start + i * GAP_SECONDS - time.monotonic()))
                statuses.append(write(i))
        assert statuses == [201] * BURST
        deadline = time.monotonic() + SETTLE_SECONDS
        while not settled(world) and time.monotonic() < deadline:
            time.sleep(0.1)
        summary = client.get("/api/summary", headers=headers).json()
    assert summary["stale"] is False
    assert summary["currencies"]["USD"]["net_minor"] == -sum(range(1, BURST + 1))
    runs = world.scalar("SELECT count(*) FROM background_jobs WHERE trigger = 'kick'")
    assert 1 <= runs <= 3, f"{runs} computations"
