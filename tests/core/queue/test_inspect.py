"""The operator's read-only views of the queue, and the retry-now transition."""

from __future__ import annotations

from datetime import UTC, datetime

from core.queue import Failure, JobQueue
from core.queue.inspect import dead_among, job_detail, pending_jobs, retrying_jobs
from tests.conftest import UpstashHandle
from tests.core.queue.conftest import Clock


def at(clock: Clock, offset_seconds: float = 0) -> datetime:
    return datetime.fromtimestamp(clock.now + offset_seconds, UTC)


def test_pending_oldest_first_with_enqueue_time(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue("first")
    clock.advance(5)
    queue.enqueue("second")
    jobs = pending_jobs(queue)
    assert [(j.id, j.enqueued_at, j.attempts) for j in jobs] == [
        ("first", at(clock, -5), 0),
        ("second", at(clock), 0),
    ]
    assert [j.id for j in pending_jobs(queue, limit=1)] == ["first"]


def test_retrying_soonest_first_with_attempts_and_error(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue("a", "b")
    queue.settle(
        queue.claim(2), failed=[Failure("a", "TimeoutError: slow"), Failure("b", "KeyError: x")]
    )
    jobs = retrying_jobs(queue)
    assert sorted(j.id for j in jobs) == ["a", "b"]
    assert jobs[0].due_at <= jobs[1].due_at
    assert all(j.due_at > at(clock) for j in jobs)
    assert {j.id: (j.attempts, j.error) for j in jobs} == {
        "a": (1, "attempt 1: TimeoutError: slow"),
        "b": (1, "attempt 1: KeyError: x"),
    }


def test_retry_now_puts_retries_at_the_front_keeping_their_history(
    queue: JobQueue, clock: Clock, upstash: UpstashHandle
) -> None:
    queue.enqueue("flaky")
    queue.settle(queue.claim(1), failed=[Failure("flaky", "TimeoutError: slow")])
    queue.enqueue("other")
    queue.retry_now(["warm-up"])  # a fresh Redis learns the script first (NOSCRIPT, EVAL)
    start = upstash.stats()["requests"]
    assert queue.retry_now(["flaky", "not-retrying"]) == 1
    assert upstash.stats()["requests"] - start == 1
    assert retrying_jobs(queue) == []
    front = pending_jobs(queue)
    assert [j.id for j in front] == ["flaky", "other"]
    assert (front[0].attempts, front[0].error) == (1, "attempt 1: TimeoutError: slow")
    claim = queue.claim(1)
    assert [(j.id, j.attempt) for j in claim.jobs] == [("flaky", 2)]


def test_job_detail_follows_one_id_through_its_states(queue: JobQueue, clock: Clock) -> None:
    assert job_detail(queue, "u").state == "idle"
    queue.enqueue("u")
    assert (job_detail(queue, "u").state, job_detail(queue, "u").enqueued_at) == (
        "pending",
        at(clock),
    )
    claim = queue.claim(1)
    leased = job_detail(queue, "u")
    assert (leased.state, leased.attempts) == ("leased", 1)
    assert leased.lease_expires_at == at(clock, 60)
    queue.settle(claim, failed=[Failure("u", "boom")])
    retrying = job_detail(queue, "u")
    assert (retrying.state, retrying.error) == ("retrying", "attempt 1: boom")
    assert retrying.due_at is not None
    queue.enqueue("v")
    queue.settle(queue.claim(1), failed=[Failure("v", "gone", permanent=True)])
    assert job_detail(queue, "v").state == "dead"
    assert dead_among(queue, ["v", "u", "nobody"]) == {"v"}
