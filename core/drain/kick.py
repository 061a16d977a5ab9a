"""The after-response kick: bring one user's summary up to date right after their write.

Once a write has answered, the same invocation claims that user if it is pending (one request;
nothing when it is not, or when another drain or kick holds it), runs the job kind for that
batch of one within `KICK_BUDGET_SECONDS`, and settles (one request). The queue stays the one
source of truth: the claim, the lease and the settle are the drain's own.

Bursts coalesce, and the last write wins: after a run the kick keeps the user for
`KICK_QUIET_SECONDS` more, reading the data version a few times (a client writing in quick
succession is still writing, and its later writes' kicks find the user held and do nothing).
When writes landed, it waits for them to pause (no new version for `KICK_QUIET_SECONDS`, polled,
bounded by the budget) and runs once more, up to `MAX_RUNS` runs in all. Writes that arrive
while the user is leased queue it again (the claim took it out of the dedup set), so whatever
the kick does not catch, the next kick or the cron does. The summary write itself is guarded by
the data version, so a kick racing a cron drain can never store an older computation over a
newer one.

`kick_after_write` never raises: the write has already answered, and a kick that fails leaves
the user pending (or leased, until the reaper returns it) for the cron.
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy import Engine

from core.base.settings import Settings
from core.drain.kinds import BatchResult, JobContext, JobKind
from core.drain.runner import (
    LEASE_GRACE_SECONDS,
    SAFETY_MARGIN_SECONDS,
    _process,
    _retrying,
    _short,
)
from core.queue import Claim, JobQueue

log = logging.getLogger("tally.kick")

TRIGGER = "kick"
# Computations of one user per kick, whatever the budget: a burst of writes costs at most this
# many, and what the last run missed is queued again for the next kick or the cron.
MAX_RUNS = 3
# Reads of the data version while a kick lingers after a run (over KICK_QUIET_SECONDS).
LINGER_LOOKS = 4


@runtime_checkable
class Versioned(Protocol):
    """A kind that can tell whether a user's result is current (the kick's re-check)."""

    def versions(self, ctx: JobContext, user_id: str) -> tuple[int, int] | None:
        """(data version, version of the stored result), None when the user does not exist."""
        ...


class KickOutcome(enum.StrEnum):
    OK = "ok"
    NOT_CLAIMED = "not_claimed"  # not pending, or another drain or kick holds it
    FAILED = "failed"  # the job failed for this user: retried with backoff like any failure
    RELEASED = "released"  # out of time or the database unreachable: back to pending, no attempt
    ERROR = "error"  # the queue failed: the user stays pending (or leased until the reaper)


@dataclass(frozen=True, slots=True)
class KickResult:
    outcome: KickOutcome
    runs: int = 0
    run_id: str = ""
    error: str | None = None
    elapsed_seconds: float = 0.0


Sleep = Callable[[float], None]


def _quiet_versions(
    kind: Versioned,
    ctx: JobContext,
    user_id: str,
    quiet: float,
    until: float,
    sleep: Sleep,
    linger: bool = False,
) -> tuple[int, int] | None:
    """The user's versions once no write has landed for `quiet` seconds, or at `until`.

    With `linger`, a current result is watched for `quiet` seconds first (in LINGER_LOOKS
    reads): a write landing meanwhile is waited for like one that landed during the run.
    """
    seen = kind.versions(ctx, user_id)
    step = quiet / LINGER_LOOKS
    linger_until = min(ctx.monotonic() + quiet, until)
    while (
        linger
        and seen is not None
        and seen[1] >= seen[0]
        and ctx.monotonic() + step <= linger_until
    ):
        sleep(step)
        seen = kind.versions(ctx, user_id)
    while seen is not None and seen[1] < seen[0] and ctx.monotonic() + quiet <= until:
        sleep(quiet)
        now = kind.versions(ctx, user_id)
        if now == seen:
            break
        seen = now
    return seen


def _rounds(
    kind: JobKind, claim: Claim, ctx: JobContext, user_id: str, quiet: float, sleep: Sleep
) -> tuple[BatchResult, int, str | None]:
    """Run the job until the user's result is current, MAX_RUNS runs or the deadline."""
    result = BatchResult(ok=[user_id])
    runs = 0
    error: str | None = None
    deadline = ctx.deadline if ctx.deadline is not None else ctx.monotonic()
    while runs < MAX_RUNS:
        if isinstance(kind, Versioned):
            # First look: at once (a single write is computed without waiting). Later looks wait
            # for the writes to pause, for at most half the time left, so a run still fits.
            # After a run, the kick lingers a moment for the writes a burst is still sending.
            quiet_until = ctx.monotonic() if runs == 0 else (ctx.monotonic() + deadline) / 2
            versions = _quiet_versions(
                kind, ctx, user_id, quiet, quiet_until, sleep, linger=runs > 0
            )
            if versions is not None and versions[1] >= versions[0]:
                break  # current (another drain got there, or the last run caught every write)
        elif runs:
            break  # no way to tell whether another run is needed: one is enough
        if ctx.monotonic() >= deadline:
            if runs == 0:
                result = BatchResult(released=[user_id])
            break
        result, error = _process(kind, claim, ctx)
        runs += 1
        if result.failed or result.released:
            break
    return result, runs, error


def kick(
    kind: JobKind,
    queue: JobQueue,
    user_id: str,
    settings: Settings,
    engine: Engine,
    *,
    budget_seconds: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Sleep = time.sleep,
) -> KickResult:
    """Claim `user_id` if pending, bring its result up to date within the budget, settle."""
    budget = settings.kick_budget_seconds if budget_seconds is None else budget_seconds
    started = monotonic()
    claim_id = uuid.uuid4().hex  # the same id on every try: a re-sent claim claims nothing new
    lease = budget + LEASE_GRACE_SECONDS
    claim = _retrying(
        "kick claim", lambda: queue.claim_user(user_id, claim_id, lease_seconds=lease)
    )
    if not claim.jobs:
        return KickResult(KickOutcome.NOT_CLAIMED, elapsed_seconds=monotonic() - started)
    run_id = uuid.uuid4().hex
    ctx = JobContext(
        kind=kind.name,
        run_id=run_id,
        trigger=TRIGGER,
        settings=settings,
        engine=engine,
        deadline=started + max(0.0, budget - SAFETY_MARGIN_SECONDS / 2),
        share_seconds=budget,
        monotonic=monotonic,
    )
    try:
        result, runs, error = _rounds(kind, claim, ctx, user_id, settings.kick_quiet_seconds, sleep)
    except BaseException:
        # The versions' read failed, or the process is stopping: hand the user back untouched.
        _retrying("kick release", lambda: queue.release(claim))
        raise
    _retrying(
        "kick settle",
        lambda: queue.settle(claim, ok=result.ok, failed=result.failed, release=result.released),
    )
    if result.failed:
        outcome = KickOutcome.FAILED
        error = error or result.failed[0].error
    elif result.released:
        outcome = KickOutcome.RELEASED
    else:
        outcome = KickOutcome.OK
    elapsed = monotonic() - started
    log.info(
        "kick kind=%s run=%s runs=%d outcome=%s elapsed=%.3fs",
        kind.name,
        run_id,
        runs,
        outcome,
        elapsed,
    )
    return KickResult(outcome, runs=runs, run_id=run_id, error=error, elapsed_seconds=elapsed)


def kick_after_write(
    kind: JobKind, queue: JobQueue, user_id: str, settings: Settings, engine: Engine
) -> KickResult:
    """`kick`, for a background task after a write's response: never raises."""
    try:
        return kick(kind, queue, user_id, settings, engine)
    except Exception as exc:  # noqa: BLE001 - the write answered; the cron is the backstop
        error = _short(exc)
        log.warning("kick kind=%s failed; the cron will catch up: %s", kind.name, error)
        return KickResult(KickOutcome.ERROR, error=error)
