"""Claiming one named user (the after-response kick): one request, a no-op unless pending."""

from __future__ import annotations

import json

from core.queue import Failure, JobQueue
from tests.conftest import UpstashHandle
from tests.core.queue.conftest import Clock


def pending(upstash: UpstashHandle, queue: JobQueue) -> list[str]:
    values = upstash.raw.lrange(queue.keys.pending, 0, -1)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def test_a_pending_user_is_claimed_alone_in_one_request(
    queue: JobQueue, upstash: UpstashHandle, clock: Clock
) -> None:
    queue.enqueue("a", "u1", "b")
    queue.claim_user("nobody")  # Redis learns the script (the one time it costs two requests)
    before = upstash.stats()["requests"]
    claim = queue.claim_user("u1", lease_seconds=5)
    assert upstash.stats()["requests"] - before == 1
    assert claim.ids == ["u1"]
    assert claim.jobs[0].attempt == 1
    assert claim.deadline_ms == int(clock() * 1000) + 5000
    assert pending(upstash, queue) == ["a", "b"]
    assert upstash.raw.zscore(queue.keys.queued, "u1") is None
    record = json.loads(upstash.raw.hget(queue.keys.jobs, "u1") or b"{}")
    assert record["attempts"] == 1


def test_a_user_not_pending_is_a_no_op(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("a")
    assert queue.claim_user("u1").jobs == ()
    assert pending(upstash, queue) == ["a"]
    assert upstash.raw.hlen(queue.keys.claims) == 0


def test_a_user_another_drain_holds_is_left_alone(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("u1")
    held = queue.claim(10)
    queue.enqueue("u1")  # a write while the drain computes: pending again, still leased
    assert queue.claim_user("u1").jobs == ()
    assert pending(upstash, queue) == ["u1"]
    queue.settle(held, ok=held.ids)
    # Once the drain lets go, the next kick takes it.
    assert queue.claim_user("u1").ids == ["u1"]


def test_a_resent_claim_returns_the_same_claim(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("u1")
    first = queue.claim_user("u1", claim_id="k1")
    queue.enqueue("u1")
    again = queue.claim_user("u1", claim_id="k1")
    assert again.ids == first.ids
    assert again.jobs[0].attempt == 1
    assert pending(upstash, queue) == ["u1"]


def test_a_kick_claim_settles_like_any_other(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("u1")
    claim = queue.claim_user("u1")
    queue.release(claim)
    assert pending(upstash, queue) == ["u1"]
    record = json.loads(upstash.raw.hget(queue.keys.jobs, "u1") or b"{}")
    assert record["attempts"] == 0
    claim = queue.claim_user("u1")
    assert queue.settle(claim, ok=claim.ids).acked == 1
    assert upstash.raw.hlen(queue.keys.claims) == 0
    assert upstash.raw.hget(queue.keys.jobs, "u1") is None


def test_a_dead_user_changed_again_gets_fresh_attempts(queue: JobQueue) -> None:
    queue.enqueue("u1")
    for _ in range(3):
        claim = queue.claim(1)
        queue.settle(claim, failed=[Failure("u1", "boom")])
        queue.retry_now(["u1"])
    assert [d.id for d in queue.dead_letters()] == ["u1"]
    queue.enqueue("u1")
    claim = queue.claim_user("u1")
    assert claim.jobs[0].attempt == 1
    assert queue.dead_letters() == []
