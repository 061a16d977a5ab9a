"""The embedded local Upstash keeps its data across a restart (`make dev`'s queue state)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from upstash_redis import Redis

from core.base.settings import Settings
from core.queue import Failure, JobQueue
from tooling.upstash_local import LocalUpstash

TOKEN = "test-snapshot-token"


def queue_of(server: LocalUpstash) -> JobQueue:
    settings = Settings(max_attempts=3, retry_base_seconds=600)
    return JobQueue(Redis(url=server.url, token=TOKEN), "financial-summary", settings)


def test_queue_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "upstash.json"
    with LocalUpstash(token=TOKEN, state_file=state) as first:
        queue = queue_of(first)
        queue.enqueue("poison", "flaky", "waiting")
        claim = queue.claim(2)
        queue.settle(
            claim,
            failed=[
                Failure("poison", "ValueError: bad row", permanent=True),
                Failure("flaky", "TimeoutError: slow"),
            ],
        )
        Redis(url=first.url, token=TOKEN).set("short-lived", "x", px=60_000)
        before = queue.stats()
        letters = queue.dead_letters()
    assert state.exists()
    with LocalUpstash(token=TOKEN, state_file=state) as second:
        queue = queue_of(second)
        after = queue.stats()
        assert (after.pending, after.retrying, after.dead) == (1, 1, 1)
        assert (after.pending, after.retrying, after.dead) == (
            before.pending,
            before.retrying,
            before.dead,
        )
        assert queue.dead_letters() == letters
        assert letters[0].error == "attempt 1: ValueError: bad row"
        ttl = Redis(url=second.url, token=TOKEN).pttl("short-lived")
        assert 0 < ttl <= 60_000


def test_changes_reach_the_file_while_serving(tmp_path: Path) -> None:
    """A hard kill loses at most one interval: the file follows the data, not only at stop."""
    state = tmp_path / "upstash.json"
    with LocalUpstash(token=TOKEN, state_file=state) as server:
        queue_of(server).enqueue("alice")
        deadline = time.monotonic() + 10
        while not (state.exists() and "alice" in _decoded_values(state)):
            assert time.monotonic() < deadline, "no snapshot written while serving"
            time.sleep(0.1)


def test_without_a_state_file_nothing_is_kept(tmp_path: Path) -> None:
    with LocalUpstash(token=TOKEN) as first:
        queue_of(first).enqueue("alice")
    with LocalUpstash(token=TOKEN) as second:
        assert queue_of(second).stats().pending == 0
    assert list(tmp_path.iterdir()) == []


def _decoded_values(path: Path) -> str:
    import base64

    document = json.loads(path.read_text())
    return " ".join(
        base64.b64decode(v).decode(errors="replace")
        for entry in document["keys"]
        for v in entry["values"]
    )
