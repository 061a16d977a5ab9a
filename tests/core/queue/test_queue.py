"""The queue contract, against real Redis behind upstash_local, through the official SDK."""

from __future__ import annotations

import json

import httpx
import pytest
from upstash_redis.errors import UpstashError

from core.base.settings import Settings
from core.queue import Failure, JobQueue, Part, QueueError, key
from core.queue.client import make_redis
from tests.conftest import UpstashHandle
from tests.core.queue.conftest import Clock


def pending(upstash: UpstashHandle, queue: JobQueue) -> list[str]:
    values = upstash.raw.lrange(queue.keys.pending, 0, -1)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def test_keys_come_from_one_function(queue: JobQueue, upstash: UpstashHandle) -> None:
    assert queue.keys.pending == f"{upstash.prefix}:financial-summary:pending"
    assert key("tally", "financial-summary", Part.DEAD) == "tally:financial-summary:dead"
    assert len(set(queue.keys.all())) == len(Part)


def test_values_are_plain_readable_strings(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("user-ä")
    claim = queue.claim(10)
    assert upstash.raw.type(queue.keys.pending) in {b"list", b"none"}
    record = json.loads(upstash.raw.hget(queue.keys.claims, claim.claim_id) or b"{}")
    assert record["jobs"] == [["user-ä", 1]]


def test_coalescing_thousand_enqueues_make_one_job(queue: JobQueue) -> None:
    for _ in range(1000):
        queue.enqueue("u1")
    claim = queue.claim(100)
    assert claim.ids == ["u1"]
    assert queue.claim(100).jobs == ()


def test_enqueue_is_one_request_and_fifo(queue: JobQueue, upstash: UpstashHandle) -> None:
    before = upstash.stats()["requests"]
    assert queue.enqueue("a", "b", "a", "c") == 3
    assert upstash.stats()["requests"] - before == 1
    assert pending(upstash, queue) == ["a", "b", "c"]


def test_enqueue_during_processing_causes_exactly_one_more_run(queue: JobQueue) -> None:
    queue.enqueue("u1")
    first = queue.claim(10)
    queue.enqueue("u1")  # the user changed data while we were computing
    queue.enqueue("u1")
    queue.settle(first, ok=first.ids)
    second = queue.claim(10)
    assert second.ids == ["u1"]
    assert second.jobs[0].attempt == 1  # a success resets the attempt count
    queue.settle(second, ok=second.ids)
    assert queue.claim(10).jobs == ()


def test_claim_resent_with_same_id_returns_same_batch(queue: JobQueue) -> None:
    queue.enqueue("a", "b", "c", "d")
    first = queue.claim(2, claim_id="c1")
    again = queue.claim(2, claim_id="c1")
    assert first.ids == again.ids == ["a", "b"]
    assert [j.attempt for j in again.jobs] == [1, 1]
    assert queue.claim(10).ids == ["c", "d"]


def test_claim_after_dropped_response_loses_nothing(
    queue_settings: Settings, upstash: UpstashHandle, clock: Clock
) -> None:
    settings = queue_settings.model_copy(update={"upstash_retries": 0})
    redis = make_redis(settings)
    queue = JobQueue(redis, "financial-summary", settings, clock=clock)
    queue.enqueue("a", "b", "c")
    upstash.server.set_faults(drop_rate=1.0)
    with pytest.raises((httpx.TransportError, QueueError, ValueError)):
        queue.claim(2, claim_id="lost-response")
    upstash.server.clear_faults()
    # The claim ran on the server; re-sending it (what the SDK does) gets the same ids back.
    assert queue.claim(2, claim_id="lost-response").ids == ["a", "b"]
    assert queue.claim(10).ids == ["c"]
    redis.close()  # type: ignore[no-untyped-call]


def test_sdk_retry_after_dropped_response_returns_same_batch(
    queue_settings: Settings, upstash: UpstashHandle, clock: Clock
) -> None:
    """With drops at random, every id is claimed exactly once across all claims."""
    settings = queue_settings.model_copy(update={"upstash_retries": 5})
    redis = make_redis(settings)
    queue = JobQueue(redis, "financial-summary", settings, clock=clock)
    ids = [f"u{i}" for i in range(60)]
    queue.enqueue(*ids)
    upstash.server.set_faults(drop_rate=0.4, seed=11)
    seen: list[str] = []
    for _ in range(40):
        claim = queue.claim(5)
        if not claim.jobs:
            break
        seen.extend(claim.ids)
        queue.settle(claim, ok=claim.ids)
    assert upstash.stats()["dropped"] > 0
    upstash.server.clear_faults()
    assert sorted(seen) == sorted(ids)
    redis.close()  # type: ignore[no-untyped-call]


def test_failure_backs_off_with_jitter_then_retries(
    queue: JobQueue, upstash: UpstashHandle, clock: Clock
) -> None:
    queue.enqueue("u1")
    claim = queue.claim(10)
    result = queue.settle(claim, failed=[Failure("u1", "boom")])
    assert result.retried == 1
    due = upstash.raw.zscore(queue.keys.retry, "u1")
    assert due is not None
    delay = due / 1000 - clock.now
    assert 5.0 <= delay <= 10.0  # attempt 1: between half and all of RETRY_BASE_SECONDS
    assert queue.reap().promoted == 0  # not due yet
    assert queue.claim(10).jobs == ()
    clock.advance(10.001)
    assert queue.reap().promoted == 1
    again = queue.claim(10)
    assert again.ids == ["u1"]
    assert again.jobs[0].attempt == 2


def test_dead_letter_after_max_attempts_then_requeue(
    queue: JobQueue, upstash: UpstashHandle, clock: Clock
) -> None:
    queue.enqueue("poison", "fine")
    for attempt in range(1, 4):
        claim = queue.claim(10)
        assert ("poison", attempt) in [(j.id, j.attempt) for j in claim.jobs]
        ok = [i for i in claim.ids if i != "poison"]
        queue.settle(claim, ok=ok, failed=[Failure("poison", f"ValueError: bad {attempt}")])
        clock.advance(1000)
        queue.reap()
    letters = queue.dead_letters()
    assert [d.id for d in letters] == ["poison"]
    assert letters[0].attempts == 3
    assert "bad 3" in letters[0].error
    assert queue.stats().dead == 1
    assert queue.claim(10).jobs == ()
    assert queue.requeue_dead() == 1
    fresh = queue.claim(10)
    assert fresh.ids == ["poison"]
    assert fresh.jobs[0].attempt == 1
    queue.settle(fresh, ok=fresh.ids)
    assert queue.dead_letters() == []


def test_permanent_failure_dead_letters_at_once_and_purge(queue: JobQueue) -> None:
    queue.enqueue("ghost")
    claim = queue.claim(10)
    result = queue.settle(claim, failed=[Failure("ghost", "no such user", permanent=True)])
    assert result.dead == 1
    assert queue.purge_dead(["ghost"]) == 1
    assert queue.dead_letters() == []
    assert queue.stats().dead == 0


def test_lease_expiry_returns_ids_after_crash(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue("a", "b")
    crashed = queue.claim(10)  # the drain dies here: no settle
    assert queue.stats().leased == 2
    clock.advance(30)
    assert queue.reap().reclaimed == 0  # lease (60 s) still running
    clock.advance(31)
    assert queue.reap().reclaimed == 2
    retry = queue.claim(10)
    assert sorted(retry.ids) == ["a", "b"]
    assert {j.attempt for j in retry.jobs} == {2}  # the crashed run counted as an attempt
    # The crashed drain waking up late still settles harmlessly.
    assert queue.settle(crashed, ok=crashed.ids).lease_lost is True


def test_lease_expiry_on_last_attempt_dead_letters(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue("a")
    for _ in range(3):
        assert queue.claim(10).ids == ["a"]
        clock.advance(61)
        queue.reap()
    assert [d.id for d in queue.dead_letters()] == ["a"]
    assert "lease expired" in queue.dead_letters()[0].error


def test_release_puts_ids_back_at_the_front(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("a", "b", "c", "d")
    claim = queue.claim(2)
    queue.enqueue("e")
    result = queue.release(claim)
    assert result.released == 2
    assert pending(upstash, queue) == ["a", "b", "c", "d", "e"]
    again = queue.claim(2)
    assert again.ids == ["a", "b"]
    assert {j.attempt for j in again.jobs} == {1}  # a release does not use an attempt


def test_reconcile_enqueue_skips_retrying_and_dead(queue: JobQueue) -> None:
    queue.enqueue("r", "d")
    claim = queue.claim(10)
    queue.settle(claim, failed=[Failure("r", "x"), Failure("d", "y", permanent=True)])
    assert queue.enqueue("r", "d", "n", sweep=True) == 1
    assert queue.claim(10).ids == ["n"]
    assert queue.enqueue("r", "d") == 2  # a user's own change always queues


def test_stats(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue("a", "b", "c")
    clock.advance(5)
    queue.claim(1)
    stats = queue.stats()
    assert stats.pending == 2
    assert stats.leased == 1
    assert stats.claims == 1
    assert stats.oldest_pending_age_seconds == pytest.approx(5.0)
    assert stats.oldest_lease_expires_in_seconds == pytest.approx(60.0)
    assert stats.retrying == 0
    assert stats.dead == 0


def test_each_transition_is_one_request(queue: JobQueue, upstash: UpstashHandle) -> None:
    # Warm up: the first call of each script in a fresh Redis may need EVAL after NOSCRIPT.
    queue.enqueue("warm")
    queue.settle(queue.claim(1), ok=["warm"])
    queue.reap()
    ids = [f"u{i}" for i in range(50)]
    counts = []
    for step in (
        lambda: queue.enqueue(*ids),
        lambda: queue.settle(
            (c := queue.claim(50)), ok=c.ids[:40], failed=[Failure(i, "e") for i in c.ids[40:]]
        ),
        queue.reap,
    ):
        start = upstash.stats()["requests"]
        step()
        counts.append(upstash.stats()["requests"] - start)
    assert counts == [1, 2, 1]  # enqueue; claim + settle; reap


def test_scripts_survive_a_script_flush(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("a")
    upstash.raw.script_flush()
    assert queue.enqueue("b") == 1  # NOSCRIPT -> EVAL fallback
    assert queue.claim(10).ids == ["a", "b"]


def test_redis_errors_surface_as_queue_errors(queue: JobQueue, upstash: UpstashHandle) -> None:
    upstash.raw.set(queue.keys.pending, "not a list")
    with pytest.raises(QueueError, match="enqueue"):
        queue.enqueue("a")
    with pytest.raises(UpstashError):
        queue.redis.lpop(queue.keys.pending)


# --- Found by the reliability suite (tests/tooling/chaos): no id in two live claims at once ------


def test_reaping_a_dead_claim_leaves_alone_an_id_a_live_claim_holds(
    queue: JobQueue, clock: Clock, upstash: UpstashHandle
) -> None:
    queue.enqueue("a", "b")
    crashed = queue.claim(10)  # this drain dies holding a and b
    clock.advance(30)
    queue.enqueue("a")  # the user changes data: queued again, on purpose
    live = queue.claim(10)
    assert live.ids == ["a"]
    clock.advance(31)  # the dead claim's lease is over; the live one's is not

    assert queue.reap().reclaimed == 1  # only b: a is being worked on right now

    assert pending(upstash, queue) == ["b"]
    assert queue.settle(crashed, ok=crashed.ids).lease_lost is True
    assert queue.settle(live, ok=live.ids).lease_lost is False


def test_a_settle_for_a_claim_no_longer_held_only_acknowledges(
    queue: JobQueue, clock: Clock, upstash: UpstashHandle
) -> None:
    queue.enqueue("a", "b")
    late = queue.claim(10)
    clock.advance(61)
    queue.reap()  # a and b are back in the queue
    again = queue.claim(10)

    result = queue.settle(late, failed=[Failure("a", "boom")], release=["b"])

    assert (result.lease_lost, result.retried, result.released) == (True, 0, 0)
    assert pending(upstash, queue) == []  # b was not pushed while `again` holds it
    assert queue.stats().retrying == 0
    assert queue.settle(again, ok=again.ids).acked == 2


def test_a_re_sent_settle_does_not_release_twice(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("a")
    claim = queue.claim(10)
    assert queue.release(claim).released == 1
    taken = queue.claim(10)  # another drain takes a before the re-sent copy arrives

    assert queue.release(claim).lease_lost is True

    assert pending(upstash, queue) == []
    assert taken.jobs[0].attempt == 1  # the first release gave the attempt back, once


def test_the_sweep_skips_ids_a_claim_holds(queue: JobQueue, upstash: UpstashHandle) -> None:
    queue.enqueue("a")
    claim = queue.claim(10)

    assert queue.enqueue("a", "b", sweep=True) == 1  # only b

    assert pending(upstash, queue) == ["b"]
    assert queue.enqueue("a") == 1  # a user's own change still queues it
    queue.settle(claim, ok=claim.ids)


def test_a_dead_users_own_change_brings_fresh_attempts(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue("u")
    claim = queue.claim(10)
    queue.settle(claim, failed=[Failure("u", "boom", permanent=True)])
    assert [d.id for d in queue.dead_letters()] == ["u"]
    queue.enqueue("u")  # the user changes data: a new chance, from attempt 1
    again = queue.claim(10)
    assert [(j.id, j.attempt) for j in again.jobs] == [("u", 1)]
    assert queue.dead_letters() == []
    queue.settle(again, failed=[Failure("u", "transient")])
    assert queue.stats().retrying == 1  # one failure is a retry, not a dead letter again
    assert queue.stats().dead == 0


def test_large_sets_are_sent_in_chunks(queue: JobQueue, upstash: UpstashHandle) -> None:
    ids = [f"user-{i}" for i in range(2_500)]
    assert queue.enqueue(*ids, sweep=True) == 2_500
    assert upstash.raw.llen(queue.keys.pending) == 2_500
    # Dead-letter them all, then requeue "all" and purge named ones past the chunk size.
    dead_at = {i: 1.0 for i in ids}
    upstash.raw.delete(queue.keys.pending, queue.keys.queued)
    upstash.raw.zadd(queue.keys.dead, dead_at)
    assert queue.requeue_dead() == 2_500
    assert queue.stats().pending == 2_500
    upstash.raw.zadd(queue.keys.dead, dead_at)
    assert queue.purge_dead(ids) == 2_500
    assert queue.stats().dead == 0


@pytest.mark.parametrize("how", ["claim", "claim_user"])
def test_a_due_retry_never_hands_a_held_id_to_a_second_claim(
    queue: JobQueue, clock: Clock, how: str
) -> None:
    queue.enqueue("u1")
    failed = queue.claim(10)
    queue.settle(failed, failed=[Failure("u1", "boom")])  # a retry is scheduled
    queue.enqueue("u1")  # the user's own change queues it before the retry is due
    first = queue.claim(10) if how == "claim" else queue.claim_user("u1")
    assert first.ids == ["u1"]
    clock.advance(15)  # the retry (at most 10 s) is due; the first lease (60 s) is not over
    queue.reap()
    assert queue.claim(10).jobs == ()  # the holder's run is the retry's attempt
    queue.settle(first, ok=first.ids)
    assert queue.claim(10).jobs == ()
