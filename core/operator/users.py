"""One user as the operator sees it: queue state, recent jobs, summary state and data version.

Read only. The queue part and the database part are read apart, and a part that is down is
reported, not raised, as on the overview; error texts are scrubbed of secrets the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col

from core.base.models import BackgroundJob, FinancialSummary, User
from core.base.settings import Settings
from core.operator.overview import aware, redact, secret_values
from core.queue import JobQueue
from core.queue.inspect import JobDetail, job_detail

log = logging.getLogger("tally.admin")

RECENT_JOBS = 20


class JobRow(BaseModel):
    """One row of `background_jobs`: one attempt at one user's job."""

    id: int
    run_id: str | None
    status: str
    attempt: int
    trigger: str
    started_at: datetime
    duration_ms: int
    source_version: int | None
    error: str | None


class SummaryState(BaseModel):
    currency: str
    computed_at: datetime
    source_version: int
    transaction_count: int


class UserDetail(BaseModel):
    id: str
    exists: bool
    data_version: int | None = None
    summary_version: int | None = None
    # The summary is stale while the data has moved on since it was computed.
    stale: bool | None = None
    dirty_since: datetime | None = None
    summaries: list[SummaryState] = []
    jobs: list[JobRow] = []  # newest first
    database_error: str | None = None
    queue: JobDetail | None = None
    queue_error: str | None = None


class UnknownUser(LookupError):
    """Neither the database nor the queue has ever heard of this id."""


def _database_part(engine: Engine, kind: str, detail: UserDetail, secrets: list[str]) -> None:
    jobs = (
        sa.select(BackgroundJob)
        .where(col(BackgroundJob.user_id) == detail.id, col(BackgroundJob.kind) == kind)
        .order_by(col(BackgroundJob.id).desc())
        .limit(RECENT_JOBS)
    )
    summaries = (
        sa.select(FinancialSummary)
        .where(col(FinancialSummary.user_id) == detail.id)
        .order_by(col(FinancialSummary.currency))
    )
    with Session(engine) as session:
        user = session.get(User, detail.id)
        detail.jobs = [
            JobRow(
                id=job.id or 0,
                run_id=job.run_id,
                status=job.status,
                attempt=job.attempt,
                trigger=job.trigger,
                started_at=aware(job.started_at),
                duration_ms=job.duration_ms,
                source_version=job.source_version,
                error=redact(job.error, secrets),
            )
            for job in session.scalars(jobs)
        ]
        if user is None:
            return
        detail.exists = True
        detail.data_version, detail.summary_version = user.data_version, user.summary_version
        detail.stale = user.summary_version < user.data_version
        detail.dirty_since = (
            None if user.summary_dirty_since is None else aware(user.summary_dirty_since)
        )
        detail.summaries = [
            SummaryState(
                currency=s.currency,
                computed_at=aware(s.computed_at),
                source_version=s.source_version,
                transaction_count=s.transaction_count,
            )
            for s in session.scalars(summaries)
        ]


def user_detail(
    queue: JobQueue | None, engine: Engine, kind: str, user_id: str, settings: Settings
) -> UserDetail:
    """Raises UnknownUser when no part that answered knows the id."""
    secrets = secret_values(settings)
    detail = UserDetail(id=user_id, exists=False)
    try:
        _database_part(engine, kind, detail, secrets)
    except Exception as exc:  # noqa: BLE001 - a driver message may name the host
        log.warning("admin: database unreachable (%s)", type(exc).__name__)
        detail.database_error = f"database unreachable ({type(exc).__name__})"
    if queue is None:
        detail.queue_error = "queue not configured (set UPSTASH_REDIS_REST_URL and _TOKEN)"
    else:
        try:
            detail.queue = job_detail(queue, user_id)
            detail.queue.error = redact(detail.queue.error, secrets)
        except Exception as exc:  # noqa: BLE001 - SDK messages quote URLs
            log.warning("admin: queue unreachable (%s)", type(exc).__name__)
            detail.queue_error = f"queue unreachable ({type(exc).__name__})"
    queued = detail.queue is not None and (detail.queue.state != "idle" or detail.queue.attempts)
    answered = detail.database_error is None and detail.queue_error is None
    if answered and not (detail.exists or detail.jobs or queued):
        raise UnknownUser(f"no user {user_id!r} in the database or the queue")
    return detail
