"""The `financial-summary` job: recompute the summaries of a whole batch of users.

A batch costs a fixed number of SQL statements, whatever its size: read versions, read the
stored summaries, read transactions, then one write transaction (lock, guarded version
update, replace summaries, job rows, notifications). When optional notification channels are
configured, delivery follows the commit and adds a fixed number of statements (one SELECT of
addresses when email is on, one UPDATE of the outcomes); with none configured it adds nothing.
Under a deadline, one more statement bounds the write's wait for row locks.

The transactions are never all in memory: they stream in user by user, `DRAIN_MAX_BATCH_ROWS`
at a time, into each user's running totals (`compute_summaries` takes one pass), so the job's
memory is flat in its users' histories.

Under a deadline (`JobContext.deadline`) the users are computed one after the other until it
comes; the rest are released. One user's computation is cut short when it reaches its share of
the budget (then it is that user's failure) or the deadline (then it is released too).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.bulk import insert_rows
from core.base.models import BackgroundJob, FinancialSummary, JobStatus, Notification, User, utcnow
from core.drain.kinds import BatchResult, JobContext
from core.notify.channels import (
    Channel,
    OutgoingNotification,
    deliver,
    enabled_channels,
    load_emails,
    record_channel_results,
)
from core.notify.inbox import summary_notification
from core.queue import ClaimedJob, Failure
from core.queue.retry import Next, next_step
from core.summary.figures import compute_summaries
from core.summary.shapes import CurrencySummary, Txn
from functions import register

log = logging.getLogger("tally.jobs.financial_summary")

KIND = "financial-summary"
# Figures that move with the calendar, not with the data: not a reason to notify anyone.
_VOLATILE = {
    "as_of",
    "this_month",
    "last_month",
    "last_month_to_date",
    "expenses_change_bp",
    "computed_at",
}
# Transactions summed between two looks at the clock while a user's computation has a limit.
CLOCK_EVERY_TRANSACTIONS = 512
# Under a deadline, how long the write may wait for row locks another drain holds; then the
# batch is released (a lock timeout is no user's failure). The lease covers it.
WRITE_LOCK_WAIT_SECONDS = 2.0


@dataclass(slots=True)
class _Computed:
    version: int
    summaries: dict[str, CurrencySummary]
    seconds: float
    # Each summary as its JSON document, dumped once for both the change test and the write.
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class _Batch:
    jobs: Sequence[ClaimedJob]
    versions: dict[str, int] = field(default_factory=dict)
    computed: dict[str, _Computed] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    previous: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Inserted notifications, kept only when an optional channel will send them.
    outgoing: list[OutgoingNotification] = field(default_factory=list)
    emails: dict[str, str | None] = field(default_factory=dict)
    # Not computed: the deadline came first. Back to the queue, no attempt counted.
    released: list[str] = field(default_factory=list)
    # time.perf_counter() when the batch started: each job's duration is measured from it.
    clock_started: float = 0.0


class _OutOfTime(Exception):
    """A user's computation reached its limit."""


def _checked(txns: Iterable[Txn], limit: float, clock: Callable[[], float]) -> Iterator[Txn]:
    """`txns`, raising _OutOfTime once `clock` passes `limit` (looked at every few hundred)."""
    if clock() >= limit:
        raise _OutOfTime
    for count, txn in enumerate(txns, start=1):
        if count % CLOCK_EVERY_TRANSACTIONS == 0 and clock() >= limit:
            raise _OutOfTime
        yield txn


def _limit(ctx: JobContext, started: float) -> tuple[float | None, bool]:
    """When this user's computation must stop, and whether that limit is the user's own share
    of the budget (reaching it is the user's failure) rather than the batch's deadline."""
    share_end = None if ctx.share_seconds is None else started + ctx.share_seconds
    if ctx.deadline is not None and (share_end is None or ctx.deadline < share_end):
        return ctx.deadline, False
    return share_end, True


def _ids_param(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name, expanding=True)


def _read_versions(session: Session, batch: _Batch) -> None:
    """The users' data versions, then their stored summaries (for the change test).

    Versions before transactions: data read after the version can only be newer than the
    version it is labelled with, so the guard may redo work but never marks stale data fresh.
    """
    ids = [job.id for job in batch.jobs]
    rows = session.execute(
        sa.select(col(User.id), col(User.data_version)).where(col(User.id).in_(_ids_param("ids"))),
        {"ids": ids},
    )
    batch.versions = {uid: int(version) for uid, version in rows}
    stored = session.execute(
        sa.text(
            "SELECT user_id, currency, figures FROM financial_summaries WHERE user_id IN :ids"
        ).bindparams(_ids_param("ids")),
        {"ids": ids},
    )
    for user_id, currency, figures in stored:
        batch.previous.setdefault(user_id, {})[currency] = _stable(figures)


_TRANSACTIONS = sa.text(
    "SELECT t.user_id, t.date, t.amount_minor, t.currency, t.description, t.category, a.name "
    "FROM transactions AS t JOIN accounts AS a ON a.id = t.account_id "
    "WHERE t.user_id IN :ids ORDER BY t.user_id"
).bindparams(_ids_param("ids"))


def _stream(
    session: Session, ids: list[str], held_rows: int
) -> Iterator[tuple[str, Iterator[Txn]]]:
    """Each user's transactions, one user after the other, `held_rows` rows in memory at most.

    One statement whatever the batch: on Postgres a server-side cursor hands the rows over
    `held_rows` at a time (a named cursor inside the read transaction, which a transaction-mode
    pooler allows), so the job's memory does not grow with its users' histories. A user
    without transactions does not appear.
    """
    result = session.execute(_TRANSACTIONS.execution_options(yield_per=held_rows), {"ids": ids})
    try:
        for user_id, rows in groupby(result, key=itemgetter(0)):
            yield str(user_id), (_txn(row) for row in rows)
    finally:
        result.close()


def _txn(row: Any) -> Txn:
    _, day, amount, currency, description, category, account = row
    if isinstance(day, str):  # SQLite hands dates back as text through a raw query
        day = datetime.strptime(day, "%Y-%m-%d").date()
    return Txn(day, int(amount), currency, description or "", category, str(account))


def _stable(figures: Any) -> dict[str, Any]:
    if isinstance(figures, str):  # JSON comes back as text from a raw query on SQLite
        figures = json.loads(figures)
    return {k: v for k, v in dict(figures).items() if k not in _VOLATILE}


# The money columns of financial_summaries are BIGINT.
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def _beyond_columns(summaries: dict[str, CurrencySummary]) -> str | None:
    """Why a user's totals cannot be stored, if they cannot.

    Amounts are bounded one by one, not in sum: a thousand of the largest USD amounts add up
    past 2^63 minor units, and storing that would fail the whole batch's transaction.
    """
    for currency, summary in summaries.items():
        for name in ("income_minor", "expenses_minor", "net_minor"):
            value = getattr(summary, name)
            if not _BIGINT_MIN <= value <= _BIGINT_MAX:
                return f"{currency} {name} {value} is out of range for a 64-bit column"
    return None


def _compute(session: Session, batch: _Batch, ctx: JobContext) -> None:
    """Every user's summary, as their transactions stream in; users without any last."""
    today = datetime.fromtimestamp(ctx.clock(), UTC).date()
    known = [job.id for job in batch.jobs if job.id in batch.versions]
    for job in batch.jobs:
        if job.id not in batch.versions:
            batch.failures[job.id] = Failure(job.id, "no such user", permanent=True)
    done: set[str] = set()

    def release_the_rest() -> None:
        batch.released = [uid for uid in known if uid not in done]

    for user_id, rows in _stream(session, known, ctx.settings.drain_max_batch_rows):
        if not _compute_one(batch, user_id, rows, ctx, today):
            return release_the_rest()
        done.add(user_id)
    for user_id in known:
        if user_id not in done:
            if not _compute_one(batch, user_id, iter(()), ctx, today):
                return release_the_rest()
            done.add(user_id)
    return None


def _compute_one(
    batch: _Batch, user_id: str, rows: Iterator[Txn], ctx: JobContext, today: date
) -> bool:
    """One user's summary, failure or nothing; False when the deadline came first."""
    now = ctx.monotonic()
    if ctx.deadline is not None and now >= ctx.deadline:
        return False
    limit, own_share = _limit(ctx, now)
    counted = _Counted(rows)
    started = time.perf_counter()
    try:
        bounded = counted if limit is None else _checked(counted, limit, ctx.monotonic)
        summaries = compute_summaries(bounded, today=today)
    except _OutOfTime:
        if not own_share:  # the deadline, not this user, cut it short
            return False
        share = ctx.share_seconds or 0.0
        error = (
            f"the summary took longer than its share of the drain's budget ({share:.1f}s); "
            f"stopped after {counted.count} transactions"
        )
        log.warning("summary for one user stopped: %s", error)
        batch.failures[user_id] = Failure(user_id, error)
        return True
    except sa.exc.SQLAlchemyError:
        raise  # the rows stream in during the computation: the database's failure, not theirs
    except Exception as exc:  # noqa: BLE001 - one user's failure must not fail the batch
        log.warning("summary for one user failed: %s", type(exc).__name__)
        batch.failures[user_id] = Failure(user_id, f"{type(exc).__name__}: {exc}")
        return True
    too_large = _beyond_columns(summaries)
    if too_large:
        # Failing here fails this user alone; the batch's write would fail everyone's.
        batch.failures[user_id] = Failure(user_id, too_large)
        return True
    batch.computed[user_id] = _Computed(
        version=batch.versions[user_id],
        summaries=summaries,
        seconds=time.perf_counter() - started,
        documents={c: s.model_dump(mode="json") for c, s in summaries.items()},
    )
    return True


class _Counted:
    """An iterator of transactions that counts what it handed out (for the error message)."""

    __slots__ = ("_rows", "count")

    def __init__(self, rows: Iterator[Txn]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Txn]:
        for txn in self._rows:
            self.count += 1
            yield txn


def _guard(session: Session, batch: _Batch) -> set[str]:
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
    stmt = (
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
    return {row[0] for row in session.execute(stmt)}


# Arrays, not one bound value per user: the statement text never changes, so it is compiled
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


def _summary_rows(user_id: str, computed: _Computed, now: datetime) -> list[dict[str, Any]]:
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


def _changed(batch: _Batch, user_id: str) -> bool:
    new = {
        currency: _stable(document)
        for currency, document in batch.computed[user_id].documents.items()
    }
    return new != batch.previous.get(user_id, {})


def _durations_ms(batch: _Batch, worked: list[str]) -> dict[str, int]:
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
    batch: _Batch, ctx: JobContext, changed: set[str], started: datetime
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


def _write(session: Session, batch: _Batch, ctx: JobContext, started: datetime) -> set[str]:
    if ctx.deadline is not None and session.get_bind().dialect.name == "postgresql":
        # A lock another drain holds must not keep this one past its deadline.
        session.execute(_LOCK_WAIT, {"value": f"{int(WRITE_LOCK_WAIT_SECONDS * 1000)}ms"})
    winners = _guard(session, batch)
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
    session: Session, batch: _Batch, ctx: JobContext, notes: list[dict[str, Any]]
) -> None:
    if not notes:
        return
    if not enabled_channels(ctx.settings):
        insert_rows(session, Notification, notes)
        return
    # Same single statement, now returning the ids the channels must report on.
    stmt = sa.insert(Notification).returning(col(Notification.id), col(Notification.user_id))
    ids = {str(user_id): int(note_id) for note_id, user_id in session.execute(stmt, notes)}
    batch.outgoing = [
        OutgoingNotification.model_validate({**note, "id": ids[note["user_id"]]}) for note in notes
    ]
    if Channel.EMAIL in enabled_channels(ctx.settings):
        # Read here, on the connection the write already holds, rather than opening another.
        batch.emails = load_emails(session, ids.keys())


def _send_channels(ctx: JobContext, batch: _Batch) -> None:
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


class FinancialSummaryJob:
    name = KIND

    def run(self, jobs: Sequence[ClaimedJob], ctx: JobContext) -> BatchResult:
        started = utcnow()
        batch = _Batch(jobs=jobs, clock_started=time.perf_counter())
        changed: set[str] = set()
        with Session(ctx.engine) as session:
            _read_versions(session, batch)
            _compute(session, batch, ctx)
            session.rollback()  # end the read transaction before the write
            if batch.computed or batch.failures:  # nothing to write when all were released
                changed = _write(session, batch, ctx, started)
                session.commit()
        if batch.outgoing:
            _send_channels(ctx, batch)
        released = set(batch.released)
        return BatchResult(
            ok=[job.id for job in jobs if job.id not in batch.failures and job.id not in released],
            failed=list(batch.failures.values()),
            changed=sorted(changed),
            released=batch.released,
        )

    def versions(self, ctx: JobContext, user_id: str) -> tuple[int, int] | None:
        """The user's data version and the version their stored summary reflects (the
        after-response kick's re-check); None when there is no such user."""
        stmt = sa.select(col(User.data_version), col(User.summary_version)).where(
            col(User.id) == user_id
        )
        with Session(ctx.engine) as session:
            row = session.execute(stmt).first()
        return None if row is None else (int(row[0]), int(row[1]))

    def reconcile(self, ctx: JobContext, limit: int) -> list[str]:
        """Users whose summary has been dirty for longer than the grace period, oldest first."""
        if limit <= 0:
            return []
        cutoff = datetime.fromtimestamp(ctx.clock() - ctx.settings.reconcile_grace_seconds, UTC)
        dirty = col(User.summary_dirty_since)
        stmt = (
            sa.select(col(User.id))
            .where(dirty.is_not(None), dirty < cutoff)
            .order_by(dirty)
            .limit(limit)
        )
        with Session(ctx.engine) as session:
            return [str(uid) for uid in session.execute(stmt).scalars()]


register(FinancialSummaryJob())
