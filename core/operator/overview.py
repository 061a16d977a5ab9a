"""What the operator sees: queue figures, dead letters and recent drain runs, and the
dead-letter actions. Framework-free data; `core/operator/page.py` turns it into the page and
`api/_http/routes/admin.py` only parses the request and picks JSON or HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from core.base.db import normalise_url
from core.base.models import DrainRun, utcnow
from core.base.settings import Settings
from core.queue import DeadLetter, JobQueue, QueueStats
from core.queue.inspect import PendingJob, RetryingJob, pending_jobs, retrying_jobs

log = logging.getLogger("tally.admin")

RECENT_RUNS = 50
DEAD_LETTERS_SHOWN = 200
# Pending and retrying ids listed: the next ones to be claimed, the soonest due.
JOBS_LISTED = 100
REDACTED = "[redacted]"

DeadActionName = Literal["requeue", "purge"]
ActionName = Literal["requeue", "purge", "retry-now"]


class RunRow(BaseModel):
    """One drain run as the operator sees it: what it did, how fast, and why it stopped."""

    id: str
    started_at: datetime
    trigger: str
    claimed: int
    succeeded: int
    failed: int
    dead: int
    remaining: int | None
    elapsed_seconds: float
    jobs_per_second: float | None
    stop_reason: str
    error: str | None


class Throughput(BaseModel):
    """Totals over the recent runs."""

    runs: int = 0
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    dead: int = 0
    elapsed_seconds: float = 0.0
    jobs_per_second: float | None = None
    last_run_at: datetime | None = None
    last_stop_reason: str | None = None


class AdminOverview(BaseModel):
    kind: str
    generated_at: datetime
    queue: QueueStats | None
    queue_error: str | None = None
    dead_letters: list[DeadLetter]
    pending_jobs: list[PendingJob] = []  # oldest first
    retrying_jobs: list[RetryingJob] = []  # soonest due first
    runs: list[RunRow]  # newest first
    # The `before` of the next page of runs (`GET /api/admin/runs`), when there are older ones.
    older_runs: str | None = None
    runs_error: str | None = None
    throughput: Throughput

    @property
    def healthy(self) -> bool:
        return self.queue_error is None and self.runs_error is None


class RunsPage(BaseModel):
    runs: list[RunRow]  # newest first
    older_runs: str | None = None


class ActionResult(BaseModel):
    action: ActionName
    # "all" when no id was named; otherwise the ids asked for.
    ids: list[str] | Literal["all"]
    count: int
    queue: QueueStats | None = None


class QueueUnavailable(RuntimeError):
    """The queue is not configured or did not answer; the message names no secret."""


class UnknownRun(LookupError):
    """A page of runs was asked for before a run that does not exist."""


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, so any text shown to an operator can be scrubbed of them."""
    candidates = [
        settings.cron_secret,
        settings.admin_secret,
        settings.auth_jwt_secret,
        settings.notify_webhook_secret,
        settings.upstash_redis_rest_token,
    ]
    values = [s.get_secret_value() for s in candidates if s is not None]
    password = make_url(normalise_url(settings.database_url)).password
    if password:
        values.append(str(password))
    # Longest first, so a secret that contains another is replaced whole.
    return sorted({v for v in values if v}, key=len, reverse=True)


def redact(text: str | None, secrets: Iterable[str]) -> str | None:
    """Error texts come from exceptions and queue records; none may carry a secret out."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _run_row(run: DrainRun, secrets: Sequence[str]) -> RunRow:
    elapsed = run.elapsed_ms / 1000
    return RunRow(
        id=run.id,
        started_at=aware(run.started_at),
        trigger=run.trigger,
        claimed=run.claimed,
        succeeded=run.succeeded,
        failed=run.failed,
        dead=run.dead,
        remaining=run.remaining,
        elapsed_seconds=round(elapsed, 3),
        jobs_per_second=round(run.claimed / elapsed, 1) if elapsed > 0 else None,
        stop_reason=run.stop_reason,
        error=redact(run.error, secrets),
    )


def aware(moment: datetime) -> datetime:
    # Stored as UTC; a column without a zone gives it back naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def recent_runs(
    engine: Engine,
    kind: str,
    secrets: Sequence[str],
    before: str | None = None,
    limit: int = RECENT_RUNS,
) -> RunsPage:
    """Runs newest first, `limit` at a time; `before` (a run id) starts after that run.

    Keyset paging on (started_at, id): a run recorded while the operator pages never shifts
    the pages that follow, as an offset would.
    """
    query = sa.select(DrainRun).where(col(DrainRun.kind) == kind)
    with Session(engine) as session:
        if before is not None:
            cursor = session.get(DrainRun, before)
            if cursor is None or cursor.kind != kind:
                raise UnknownRun(f"no drain run {before!r}")
            query = query.where(
                sa.or_(
                    col(DrainRun.started_at) < cursor.started_at,
                    sa.and_(
                        col(DrainRun.started_at) == cursor.started_at, col(DrainRun.id) < before
                    ),
                )
            )
        query = query.order_by(col(DrainRun.started_at).desc(), col(DrainRun.id).desc())
        rows = [_run_row(run, secrets) for run in session.scalars(query.limit(limit + 1))]
    more = len(rows) > limit
    return RunsPage(runs=rows[:limit], older_runs=rows[limit - 1].id if more else None)


def throughput(runs: Sequence[RunRow]) -> Throughput:
    if not runs:
        return Throughput()
    elapsed = sum(r.elapsed_seconds for r in runs)
    claimed = sum(r.claimed for r in runs)
    return Throughput(
        runs=len(runs),
        claimed=claimed,
        succeeded=sum(r.succeeded for r in runs),
        failed=sum(r.failed for r in runs),
        dead=sum(r.dead for r in runs),
        elapsed_seconds=round(elapsed, 3),
        jobs_per_second=round(claimed / elapsed, 1) if elapsed > 0 else None,
        last_run_at=runs[0].started_at,
        last_stop_reason=runs[0].stop_reason,
    )


class _QueueFigures(BaseModel):
    stats: QueueStats | None = None
    dead: list[DeadLetter] = []
    pending: list[PendingJob] = []
    retrying: list[RetryingJob] = []
    error: str | None = None


def _queue_figures(queue: JobQueue | None, secrets: Sequence[str]) -> _QueueFigures:
    if queue is None:
        return _QueueFigures(error="queue not configured (set UPSTASH_REDIS_REST_URL and _TOKEN)")
    try:
        figures = _QueueFigures(
            stats=queue.stats(),
            dead=queue.dead_letters(limit=DEAD_LETTERS_SHOWN),
            pending=pending_jobs(queue, limit=JOBS_LISTED),
            retrying=retrying_jobs(queue, limit=JOBS_LISTED),
        )
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; SDK messages quote URLs
        log.warning("admin: queue unreachable (%s)", type(exc).__name__)
        return _QueueFigures(error=f"queue unreachable ({type(exc).__name__})")
    for letter in figures.dead:
        letter.error = redact(letter.error, secrets) or ""
    for retrying in figures.retrying:
        retrying.error = redact(retrying.error, secrets) or ""
    for pending in figures.pending:
        pending.error = redact(pending.error, secrets)
    return figures


def gather(queue: JobQueue | None, engine: Engine, kind: str, settings: Settings) -> AdminOverview:
    """Everything the operator view shows. A part that is down is reported, not raised."""
    secrets = secret_values(settings)
    figures = _queue_figures(queue, secrets)
    runs_error = None
    try:
        page = recent_runs(engine, kind, secrets)
    except Exception as exc:  # noqa: BLE001 - as above; a driver message may name the host
        log.warning("admin: database unreachable (%s)", type(exc).__name__)
        page, runs_error = RunsPage(runs=[]), f"database unreachable ({type(exc).__name__})"
    return AdminOverview(
        kind=kind,
        generated_at=utcnow(),
        queue=figures.stats,
        queue_error=figures.error,
        dead_letters=figures.dead,
        pending_jobs=figures.pending,
        retrying_jobs=figures.retrying,
        runs=page.runs,
        older_runs=page.older_runs,
        runs_error=runs_error,
        throughput=throughput(page.runs),
    )


def dead_action(
    queue: JobQueue | None, action: DeadActionName, ids: Sequence[str] | None
) -> ActionResult:
    """Requeue or purge dead letters: the named ids, or all of them when `ids` is None.

    An explicit empty list does nothing: the queue reads "no ids" as "all", and a client that
    filtered its selection down to nothing must not wipe every dead letter by accident.
    """
    if queue is None:
        raise QueueUnavailable("queue not configured (set UPSTASH_REDIS_REST_URL and _TOKEN)")
    named: list[str] | Literal["all"] = "all" if ids is None else list(ids)
    if named != "all" and not named:
        return ActionResult(action=action, ids=[], count=0)
    selection = () if named == "all" else named
    try:
        if action == "requeue":
            count = queue.requeue_dead(selection)
        else:
            count = queue.purge_dead(selection)
    except Exception as exc:  # noqa: BLE001 - reported as 503 with the type only
        log.warning("admin: %s-dead failed (%s)", action, type(exc).__name__)
        raise QueueUnavailable(f"queue unreachable ({type(exc).__name__})") from None
    asked = "all" if named == "all" else len(named)
    log.info("admin: %s-dead ids=%s count=%d", action, asked, count)
    return ActionResult(action=action, ids=named, count=count, queue=_stats_after(queue))


def retry_now(queue: JobQueue | None, ids: Sequence[str]) -> ActionResult:
    """Retrying ids due at once, at the front of the queue; ids not retrying are left alone."""
    if queue is None:
        raise QueueUnavailable("queue not configured (set UPSTASH_REDIS_REST_URL and _TOKEN)")
    try:
        count = queue.retry_now(list(ids))
    except Exception as exc:  # noqa: BLE001 - reported as 503 with the type only
        log.warning("admin: retry-now failed (%s)", type(exc).__name__)
        raise QueueUnavailable(f"queue unreachable ({type(exc).__name__})") from None
    log.info("admin: retry-now ids=%d count=%d", len(ids), count)
    return ActionResult(action="retry-now", ids=list(ids), count=count, queue=_stats_after(queue))


def _stats_after(queue: JobQueue) -> QueueStats | None:
    # The action itself succeeded: a failure to read the figures afterwards must not report it
    # as failed (the operator would retry a purge that already happened).
    try:
        return queue.stats()
    except Exception as exc:  # noqa: BLE001 - the figures are a convenience
        log.warning("admin: queue figures after the action failed (%s)", type(exc).__name__)
        return None
