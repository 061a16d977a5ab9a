"""Read-only views of one queue for operators: who is pending, retrying, leased or dead.

None of these change anything, so none is a transition: each is a couple of plain reads (a
range and the matching job records), and two reads a moment apart may disagree about an id that
moved in between; the next refresh shows where it went.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal, cast

from pydantic import BaseModel

from core.queue.queue import DeadLetter, JobQueue

JobState = Literal["pending", "leased", "retrying", "dead", "idle"]


class PendingJob(BaseModel):
    id: str
    enqueued_at: datetime | None
    # Attempts used so far (0 for a first run) and the error of the last one, if it failed.
    attempts: int
    error: str | None


class RetryingJob(BaseModel):
    id: str
    due_at: datetime
    attempts: int
    error: str


class JobDetail(BaseModel):
    """Where one id stands in the queue right now."""

    id: str
    state: JobState
    attempts: int
    error: str | None
    enqueued_at: datetime | None = None
    due_at: datetime | None = None
    dead_at: datetime | None = None
    lease_expires_at: datetime | None = None


def _moment(ms: float | str | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(float(ms) / 1000, UTC)


def _records(queue: JobQueue, ids: Sequence[str]) -> list[dict[str, object]]:
    if not ids:
        return []
    raw = queue.redis.hmget(queue.keys.jobs, *ids)
    return [json.loads(r) if r else {} for r in raw]


def _attempts(record: dict[str, object]) -> int:
    value = record.get("attempts", 0)
    return int(value) if isinstance(value, int | str) else 0


def _error(record: dict[str, object]) -> str | None:
    error = record.get("error")
    return None if error is None else str(error)


def pending_jobs(queue: JobQueue, limit: int = 100) -> list[PendingJob]:
    """The next `limit` ids to be claimed, oldest first, with when each was queued."""
    ids = queue.redis.lrange(queue.keys.pending, 0, limit - 1)
    if not ids:
        return []
    scores = queue.redis.zmscore(queue.keys.queued, ids)
    return [
        PendingJob(
            id=job_id,
            enqueued_at=_moment(score),
            attempts=_attempts(record),
            error=_error(record),
        )
        for job_id, score, record in zip(ids, scores, _records(queue, ids), strict=True)
    ]


def retrying_jobs(queue: JobQueue, limit: int = 100) -> list[RetryingJob]:
    """Ids waiting for a retry, the soonest due first, with attempts and the last error."""
    entries = cast(
        "list[tuple[str, float]]",
        queue.redis.zrange(queue.keys.retry, 0, limit - 1, withscores=True),
    )
    ids = [member for member, _ in entries]
    return [
        RetryingJob(
            id=job_id,
            due_at=datetime.fromtimestamp(float(score) / 1000, UTC),
            attempts=_attempts(record),
            error=_error(record) or "",
        )
        for (job_id, score), record in zip(entries, _records(queue, ids), strict=True)
    ]


def dead_among(queue: JobQueue, ids: Sequence[str]) -> set[str]:
    """Which of `ids` are dead letters (so an action can name the ones that are not)."""
    if not ids:
        return set()
    scores = queue.redis.zmscore(queue.keys.dead, list(ids))
    return {job_id for job_id, score in zip(ids, scores, strict=True) if score is not None}


def dead_letter_of(queue: JobQueue, job_id: str) -> DeadLetter | None:
    """`job_id`'s dead letter, unless it was queued again since (a write of its own queues a
    dead id without forgetting the dead letter). One request when the id is not dead."""
    dead = queue.redis.zscore(queue.keys.dead, job_id)
    if dead is None:
        return None
    if queue.redis.zscore(queue.keys.queued, job_id) is not None:
        return None
    record = _records(queue, [job_id])[0]
    return DeadLetter(
        id=job_id,
        attempts=_attempts(record),
        error=_error(record) or "",
        dead_at=datetime.fromtimestamp(float(dead) / 1000, UTC),
    )


def _lease_deadline(queue: JobQueue, job_id: str) -> datetime | None:
    # Claims are few (one per batch in flight), so reading them all is cheap.
    for raw in queue.redis.hvals(queue.keys.claims):
        claim = json.loads(raw)
        if any(str(job[0]) == job_id for job in claim["jobs"]):
            return _moment(claim["deadline"])
    return None


def job_detail(queue: JobQueue, job_id: str) -> JobDetail:
    """The queue state of one id: pending, leased, retrying, dead, or idle (nothing to do)."""
    record = _records(queue, [job_id])[0]
    base = JobDetail(id=job_id, state="idle", attempts=_attempts(record), error=_error(record))
    queued = queue.redis.zscore(queue.keys.queued, job_id)
    due = queue.redis.zscore(queue.keys.retry, job_id)
    dead = queue.redis.zscore(queue.keys.dead, job_id)
    lease = _lease_deadline(queue, job_id)
    if lease is not None:
        base.state, base.lease_expires_at = "leased", lease
    elif queued is not None:
        base.state, base.enqueued_at = "pending", _moment(queued)
    elif due is not None:
        base.state, base.due_at = "retrying", _moment(due)
    elif dead is not None:
        base.state, base.dead_at = "dead", _moment(dead)
    return base
