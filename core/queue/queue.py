"""The job queue over Upstash Redis. Each transition is one atomic request and one log line."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel

from core.base.settings import Settings
from core.queue.error_text import clip, failure_summary, plain
from core.queue.keys import QueueKeys
from core.queue.retry import Next, backoff_seconds, next_step
from core.queue.scripts import ScriptName, run

if TYPE_CHECKING:
    from upstash_redis import Redis

log = logging.getLogger("tally.queue")

Clock = Callable[[], float]
# Ids per script call: Lua's unpack() refuses a few thousand values, so larger sets are sent in
# several requests (only the sweep and the dead-letter actions ever get near this).
SCRIPT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    jobs: tuple[ClaimedJob, ...]
    deadline_ms: int = 0

    @property
    def ids(self) -> list[str]:
        return [job.id for job in self.jobs]

    def __len__(self) -> int:
        return len(self.jobs)


@dataclass(frozen=True, slots=True)
class Failure:
    id: str
    error: str
    # A failure no retry can fix (say, the user does not exist): dead-letter at once.
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class SettleResult:
    acked: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    lease_lost: bool = False


@dataclass(frozen=True, slots=True)
class ReapResult:
    reclaimed: int = 0
    dead: int = 0
    promoted: int = 0
    # The queue held nothing at all (no pending id, claim or retry): there is nothing to claim.
    nothing: bool = False


class QueueStats(BaseModel):
    pending: int
    oldest_pending_age_seconds: float | None
    leased: int
    claims: int
    oldest_lease_expires_in_seconds: float | None
    retrying: int
    next_retry_in_seconds: float | None
    dead: int


class DeadLetter(BaseModel):
    id: str
    attempts: int
    error: str
    dead_at: datetime


@dataclass(slots=True)
class _Outcome:
    ok: list[str] = field(default_factory=list)
    retry: list[tuple[str, int, str]] = field(default_factory=list)
    dead: list[tuple[str, str]] = field(default_factory=list)
    release: list[str] = field(default_factory=list)


class JobQueue:
    def __init__(
        self,
        redis: Redis,
        kind: str,
        settings: Settings,
        *,
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.redis = redis
        self.kind = kind
        self.settings = settings
        self.keys = QueueKeys(settings.queue_prefix, kind)
        self._clock = clock
        self._rng = rng or random.Random()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def enqueue(self, *ids: str, sweep: bool = False) -> int:
        """Queue ids unless already pending. One request (per 1,000 ids).

        `sweep=True` (the reconcile sweep) leaves out ids that wait for a retry, are dead, or
        are held by a claim.
        """
        if not ids:
            return 0
        added = 0
        for start in range(0, len(ids), SCRIPT_CHUNK):
            chunk = ids[start : start + SCRIPT_CHUNK]
            args: list[str | int] = [self._now_ms(), "1" if sweep else "0", *chunk]
            added += int(run(self.redis, ScriptName.ENQUEUE, self.keys, args))
        log.info("enqueue kind=%s ids=%d added=%d sweep=%s", self.kind, len(ids), added, sweep)
        return added

    def claim(
        self, count: int, claim_id: str | None = None, *, lease_seconds: float | None = None
    ) -> Claim:
        """Pop up to `count` ids, lease them and count the attempt. Safe to re-send.

        The lease lasts `lease_seconds` (default LEASE_SECONDS).
        """
        claim_id = claim_id or uuid.uuid4().hex
        seconds = self.settings.lease_seconds if lease_seconds is None else lease_seconds
        lease_ms = int(seconds * 1000)
        args: list[str | int] = [claim_id, count, self._now_ms(), lease_ms]
        raw = run(self.redis, ScriptName.CLAIM, self.keys, args)
        return self._claimed(claim_id, raw, "claim")

    def claim_user(
        self, user_id: str, claim_id: str | None = None, *, lease_seconds: float | None = None
    ) -> Claim:
        """Claim `user_id` alone if it is pending and no claim holds it (the after-response
        kick); an empty claim otherwise. One request, safe to re-send. Settle it as any claim.
        """
        claim_id = claim_id or uuid.uuid4().hex
        seconds = self.settings.lease_seconds if lease_seconds is None else lease_seconds
        args: list[str | int] = [claim_id, user_id, self._now_ms(), int(seconds * 1000)]
        raw = run(self.redis, ScriptName.CLAIM_USER, self.keys, args)
        return self._claimed(claim_id, raw, "claim-user")

    def _claimed(self, claim_id: str, raw: str | None, what: str) -> Claim:
        if not raw:
            log.debug("%s kind=%s empty", what, self.kind)
            return Claim(claim_id=claim_id, jobs=())
        record = json.loads(raw)
        jobs = tuple(ClaimedJob(id=str(i), attempt=int(a)) for i, a in record["jobs"])
        log.info("%s kind=%s claim=%s ids=%d", what, self.kind, claim_id, len(jobs))
        return Claim(claim_id=claim_id, jobs=jobs, deadline_ms=int(record["deadline"]))

    def settle(
        self,
        claim: Claim,
        *,
        ok: Iterable[str] = (),
        failed: Sequence[Failure] = (),
        release: Iterable[str] = (),
    ) -> SettleResult:
        """Ack, retry, dead-letter and release the ids of one claim in one request."""
        attempts = {job.id: job.attempt for job in claim.jobs}
        outcome = _Outcome(ok=list(ok), release=list(release))
        now_ms = self._now_ms()
        lines: list[tuple[Failure, int, int | None]] = []  # failure, attempt, retry at (ms)
        for failure in failed:
            attempt = attempts.get(failure.id, 1)
            error = clip(f"attempt {attempt}: {failure.error}")
            step = next_step(attempt, self.settings.max_attempts, permanent=failure.permanent)
            if step is Next.DEAD:
                outcome.dead.append((failure.id, error))
                lines.append((failure, attempt, None))
                continue
            delay = backoff_seconds(
                attempt,
                self.settings.retry_base_seconds,
                self.settings.retry_max_seconds,
                self._rng,
            )
            outcome.retry.append((failure.id, now_ms + int(delay * 1000), error))
            lines.append((failure, attempt, now_ms + int(delay * 1000)))
        document = json.dumps(
            {
                "ok": outcome.ok,
                "retry": outcome.retry,
                "dead": outcome.dead,
                "release": outcome.release,
            }
        )
        held = int(
            run(self.redis, ScriptName.SETTLE, self.keys, [claim.claim_id, now_ms, document])
        )
        # A claim no longer held had its ids returned by the reaper (or this settle was
        # already applied once): only the successes were applied, see settle.lua.
        lost = held == 0
        result = SettleResult(
            acked=len(outcome.ok),
            retried=0 if lost else len(outcome.retry),
            dead=0 if lost else len(outcome.dead),
            released=0 if lost else len(outcome.release),
            lease_lost=lost,
        )
        if not lost:
            for failure, attempt, due_ms in lines:
                self._log_failure(failure, attempt, due_ms)
        log_level = logging.WARNING if result.lease_lost else logging.INFO
        log.log(
            log_level,
            "settle kind=%s claim=%s acked=%d retried=%d dead=%d released=%d lease_lost=%s",
            self.kind,
            claim.claim_id,
            result.acked,
            result.retried,
            result.dead,
            result.released,
            result.lease_lost,
        )
        return result

    def _log_failure(self, failure: Failure, attempt: int, due_ms: int | None) -> None:
        """One line per failed job, for whoever reads the function's log: who, which attempt,
        what next, and the error's class and message (never the SQL query or its parameters)."""
        error_class, message = failure_summary(failure.error)
        due = "none" if due_ms is None else datetime.fromtimestamp(due_ms / 1000, UTC).isoformat()
        log.log(
            logging.ERROR if due_ms is None else logging.WARNING,
            "job failed kind=%s user=%s attempt=%d/%d outcome=%s next_retry=%s error_class=%s"
            " error=%s",
            self.kind,
            plain(failure.id),
            attempt,
            self.settings.max_attempts,
            "dead" if due_ms is None else "retry",
            due,
            error_class,
            json.dumps(message, ensure_ascii=False),
        )

    def release(self, claim: Claim) -> SettleResult:
        """Give every id of an unprocessed claim back, at the front, without using an attempt."""
        return self.settle(claim, release=claim.ids)

    def reap(self) -> ReapResult:
        """Expired leases back to pending (or dead after the last attempt); due retries promoted.

        When the queue is empty this costs one read (the idle tick's whole Upstash bill).
        """
        limit = SCRIPT_CHUNK  # more due retries wait for the next drain
        args: list[str | int] = [self._now_ms(), self.settings.max_attempts, limit]
        reclaimed, dead, promoted, nothing = (
            int(x) for x in run(self.redis, ScriptName.REAP, self.keys, args)
        )
        result = ReapResult(
            reclaimed=reclaimed, dead=dead, promoted=promoted, nothing=bool(nothing)
        )
        if reclaimed or dead or promoted:
            log.info(
                "reap kind=%s reclaimed=%d dead=%d promoted=%d",
                self.kind,
                reclaimed,
                dead,
                promoted,
            )
        return result

    def stats(self) -> QueueStats:
        data = json.loads(run(self.redis, ScriptName.STATS, self.keys, []))
        now_ms = self._now_ms()

        def seconds(ms: float | None, sign: int) -> float | None:
            return None if ms is None else round(sign * (now_ms - ms) / 1000, 3)

        return QueueStats(
            pending=int(data["pending"]),
            oldest_pending_age_seconds=seconds(data["oldest_enqueued_ms"], 1),
            leased=int(data["leased"]),
            claims=int(data["claims"]),
            oldest_lease_expires_in_seconds=seconds(data["oldest_lease_deadline_ms"], -1),
            retrying=int(data["retrying"]),
            next_retry_in_seconds=seconds(data["next_retry_ms"], -1),
            dead=int(data["dead"]),
        )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Oldest first, with the last error of each."""
        entries = cast(
            "list[tuple[str, float]]",
            self.redis.zrange(self.keys.dead, 0, limit - 1, withscores=True),
        )
        if not entries:
            return []
        ids = [member for member, _ in entries]
        records = self.redis.hmget(self.keys.jobs, *ids)
        letters = []
        for (member, score), raw in zip(entries, records, strict=True):
            record = json.loads(raw or "{}")
            letters.append(
                DeadLetter(
                    id=member,
                    attempts=int(record.get("attempts", 0)),
                    error=str(record.get("error", "")),
                    dead_at=datetime.fromtimestamp(float(score) / 1000, UTC),
                )
            )
        return letters

    def _dead_action(self, action: str, ids: Sequence[str]) -> int:
        count = 0
        if ids:
            for start in range(0, len(ids), SCRIPT_CHUNK):
                chunk = list(ids[start : start + SCRIPT_CHUNK])
                count += int(
                    run(self.redis, ScriptName.DEAD, self.keys, [action, self._now_ms(), *chunk])
                )
        else:
            # "All": the script takes the oldest 1,000 at a time; repeat until fewer come back.
            while True:
                done = int(run(self.redis, ScriptName.DEAD, self.keys, [action, self._now_ms()]))
                count += done
                if done < SCRIPT_CHUNK:
                    break
        log.info("%s-dead kind=%s ids=%s count=%d", action, self.kind, len(ids) or "all", count)
        return count

    def requeue_dead(self, ids: Sequence[str] = ()) -> int:
        """Dead ids (all when none are named) back to pending with fresh attempts."""
        return self._dead_action("requeue", ids)

    def purge_dead(self, ids: Sequence[str] = ()) -> int:
        """Forget dead ids (all when none are named)."""
        return self._dead_action("purge", ids)

    def retry_now(self, ids: Sequence[str]) -> int:
        """Retrying ids due at once, at the front of the queue. One request (per 1,000 ids)."""
        count = 0
        for start in range(0, len(ids), SCRIPT_CHUNK):
            chunk = list(ids[start : start + SCRIPT_CHUNK])
            args: list[str | int] = [self._now_ms(), *chunk]
            count += int(run(self.redis, ScriptName.RETRY_NOW, self.keys, args))
        log.info("retry-now kind=%s ids=%d moved=%d", self.kind, len(ids), count)
        return count
