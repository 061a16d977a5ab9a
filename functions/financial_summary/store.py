"""The `financial-summary` job's write: one transaction per batch, then the optional channels.

The transaction locks the batch's users, records the new summary versions only where they are
newer (so a late, older computation never overwrites a newer one), replaces their summaries and
inserts the job rows and the notifications. Channel delivery runs after the commit, outside any
transaction, and never fails the job.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.bulk import insert_rows
from core.base.models import (
    BackgroundJob,
    FinancialSummary,
    JobStatus,
    Notification,
    SummaryRollup,
    User,
    utcnow,
)
from core.drain.kinds import JobContext
from core.notify.channels import (
    Channel,
    OutgoingNotification,
    deliver,
    enabled_channels,
    load_emails,
    record_channel_results,
)
from core.notify.inbox import summary_notification
from core.queue.retry import Next, next_step
from core.summary.rollups import cell_rows, storable
from functions.financial_summary.batch import KIND, Batch, Computed, stable

log = logging.getLogger("tally.jobs.financial_summary")

# Under a deadline, how long the write may wait for row locks another drain holds; then the
# batch is released (a lock timeout is no user's failure). The lease covers it.
WRITE_LOCK_WAIT_SECONDS = 2.0


def _guard(session: Session, batch: Batch) -> set[str]:
    """Record the new summary versions; returns the users whose computation is the newest.

    The UPDATE only touches users whose stored summary is older than what we computed, so an
    older computation finishing late can never overwrite a newer one. The dirty marker is
    cleared only when nothing changed since the versions were read.
    """
    if not batch.computed:
        return set()
    ids = sorted(batch.computed)
    if session.get_bind().dialect.name == "postgresql":
        return _guard_postgres(session, ids, [batch.computed[uid].version for uid in ids])
    version = sa.case(
        {uid: batch.computed[uid].version for uid in ids},
        value=col(User.id),
    )
    update = (
        sa.update(User)
        .where(col(User.id).in_(ids), col(User.summary_version) < version)
        .values(
            summary_version=version,
            summary_dirty_since=sa.case(
                (col(User.data_version) == version, None),
                else_=col(User.summary_dirty_since),
            ),
        )
        .returning(col(User.id))
        .execution_options(synchronize_session=False)
    )
    return {row[0] for row in session.execute(update)}


# Arrays, not one bound value per user: the query's text never changes, so it is compiled
# once per process, where a CASE over the batch was compiled afresh for every batch.
_LOCK_USERS = sa.text("SELECT id FROM users WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")
_GUARDED_VERSIONS = sa.text(
    """
    UPDATE users AS u
    SET summary_version = v.version,
        summary_dirty_since = CASE WHEN u.data_version = v.version THEN NULL
                                   ELSE u.summary_dirty_since END
    FROM unnest(CAST(:ids AS varchar[]), CAST(:versions AS bigint[])) AS v(id, version)
    WHERE u.id = v.id AND u.summary_version < v.version
    RETURNING u.id
    """
)


def _guard_postgres(session: Session, ids: list[str], versions: list[int]) -> set[str]:
    # Lock in a fixed order so two drains with overlapping batches cannot deadlock.
    session.execute(_LOCK_USERS, {"ids": ids})
    rows = session.execute(_GUARDED_VERSIONS, {"ids": ids, "versions": versions})
    return {str(row[0]) for row in rows}


def _build_cells(session: Session, batch: Batch) -> None:
    """Store the cells summed from the rows of users not built yet, and mark them built, for
    each user whose data did not change since it was read (after the guard, so the user's row
    is locked; a write that bumps the version later sees the flag and refreshes its months).
    A user whose data moved keeps no cells: the next computation builds them."""
    built = []
    for user_id in sorted(batch.new_cells):
        computed = batch.computed.get(user_id)
        if computed is None or not storable(batch.new_cells[user_id].values()):
            continue
        update = (
            sa.update(User)
            .where(
                col(User.id) == user_id,
                col(User.data_version) == computed.version,
                col(User.rollups_built).is_(False),
            )
            .values(rollups_built=True)
            .returning(col(User.id))
            .execution_options(synchronize_session=False)
        )
        if session.execute(update).first() is not None:
            built.append(user_id)
    if not built:
        return
    session.execute(sa.delete(SummaryRollup).where(col(SummaryRollup.user_id).in_(built)))
    rows = [row for uid in built for row in cell_rows(uid, batch.new_cells[uid].values())]
    insert_rows(session, SummaryRollup, rows)


def _summary_rows(user_id: str, computed: Computed, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for currency, summary in sorted(computed.summaries.items()):
        figures = computed.documents[currency]
        rows.append(
            {
                "user_id": user_id,
                "currency": currency,
                "income_minor": summary.income_minor,
                "expenses_minor": summary.expenses_minor,
                "net_minor": summary.net_minor,
                "transaction_count": summary.transaction_count,
                "first_date": summary.first_date,
                "last_date": summary.last_date,
                "figures": figures,
                "source_version": computed.version,
                "computed_at": now,
            }
        )
    return rows


def _changed(batch: Batch, user_id: str) -> bool:
    new = {
        currency: stable(document)
        for currency, document in batch.computed[user_id].documents.items()
    }
    return new != batch.previous.get(user_id, {})


def _durations_ms(batch: Batch, worked: list[str]) -> dict[str, int]:
    """Each worked job's time: its own computation plus an equal share of the batch's common
    work (the reads and the write up to now), so a batch's jobs add up to the batch. Rounded up
    to whole milliseconds: a job that ran never records 0 ms."""
    if not worked:
        return {}
    elapsed = time.perf_counter() - batch.clock_started
    own = {uid: batch.computed[uid].seconds if uid in batch.computed else 0.0 for uid in worked}
    share = max(0.0, elapsed - sum(own.values())) / len(worked)
    return {uid: max(1, math.ceil((own[uid] + share) * 1000)) for uid in worked}


def _job_rows(
    batch: Batch, ctx: JobContext, changed: set[str], started: datetime
) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    released = set(batch.released)
    durations = _durations_ms(batch, [job.id for job in batch.jobs if job.id not in released])
    for job in batch.jobs:
        if job.id in released:  # not worked on: no history to record
            continue
        failure = batch.failures.get(job.id)
        status, error = JobStatus.SUCCEEDED, None
        if failure is not None:
            step = next_step(job.attempt, ctx.settings.max_attempts, permanent=failure.permanent)
            status = JobStatus.DEAD if step is Next.DEAD else JobStatus.FAILED
            error = failure.error[:2000]
        computed = batch.computed.get(job.id)
        rows.append(
            {
                "kind": KIND,
                "user_id": job.id,
                "run_id": ctx.run_id,
                "status": status.value,
                "attempt": job.attempt,
                "trigger": ctx.trigger,
                "source_version": computed.version if computed else None,
                "changed": job.id in changed,
                "started_at": started,
                "finished_at": now,
                "duration_ms": durations[job.id],
                "error": error,
            }
        )
    return rows


_LOCK_WAIT = sa.text("SELECT set_config('lock_timeout', :value, true)")


def write_batch(session: Session, batch: Batch, ctx: JobContext, started: datetime) -> set[str]:
    if ctx.deadline is not None and session.get_bind().dialect.name == "postgresql":
        # A lock another drain holds must not keep this one past its deadline.
        session.execute(_LOCK_WAIT, {"value": f"{int(WRITE_LOCK_WAIT_SECONDS * 1000)}ms"})
    winners = _guard(session, batch)
    _build_cells(session, batch)
    changed = {uid for uid in winners if _changed(batch, uid)}
    now = utcnow()
    if winners:
        session.execute(
            sa.delete(FinancialSummary).where(col(FinancialSummary.user_id).in_(sorted(winners)))
        )
        rows = [r for uid in sorted(winners) for r in _summary_rows(uid, batch.computed[uid], now)]
        insert_rows(session, FinancialSummary, rows)
    insert_rows(session, BackgroundJob, _job_rows(batch, ctx, changed, started))
    notes = [
        summary_notification(uid, batch.computed[uid].summaries, now) for uid in sorted(changed)
    ]
    _insert_notifications(session, batch, ctx, notes)
    return changed


def _insert_notifications(
    session: Session, batch: Batch, ctx: JobContext, notes: list[dict[str, Any]]
) -> None:
    if not notes:
        return
    if not enabled_channels(ctx.settings):
        insert_rows(session, Notification, notes)
        return
    # Same single INSERT, now returning the ids the channels must report on.
    insert = sa.insert(Notification).returning(col(Notification.id), col(Notification.user_id))
    ids = {str(user_id): int(note_id) for note_id, user_id in session.execute(insert, notes)}
    batch.outgoing = [
        OutgoingNotification.model_validate({**note, "id": ids[note["user_id"]]}) for note in notes
    ]
    if Channel.EMAIL in enabled_channels(ctx.settings):
        # Read here, on the connection the write already holds, rather than opening another.
        batch.emails = load_emails(session, ids.keys())


def send_channels(ctx: JobContext, batch: Batch) -> None:
    """Email and webhook copies of the batch's notifications, after the summaries committed.

    Nothing here may fail the job: the summaries are stored and the in-app rows exist, so a
    broken channel (or even a database error while recording its outcome) is only logged.
    """
    try:
        # Runs with no transaction open: the network calls may take seconds.
        results = deliver(batch.outgoing, batch.emails, ctx.settings)
        with Session(ctx.engine) as session:
            record_channel_results(session, results)
            session.commit()
    except Exception as exc:  # noqa: BLE001 - the job already succeeded; see the docstring
        log.warning("notification channels failed: %s", type(exc).__name__)
