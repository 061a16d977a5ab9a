"""The `financial-summary` job: recompute the summaries of a whole batch of users.

A batch costs a fixed number of SQL queries, whatever its size: read versions, read the
stored summaries, read transactions, then one write transaction (lock, guarded version
update, replace summaries, job rows, notifications). When optional notification channels are
configured, delivery follows the commit and adds a fixed number of queries (one SELECT of
addresses when email is on, one UPDATE of the outcomes); with none configured it adds nothing.
Under a deadline, one more query bounds the write's wait for row locks.

The transactions are never all in memory: they stream in user by user, `DRAIN_MAX_BATCH_ROWS`
at a time, into each user's running totals (`compute_summaries` takes one pass), so the job's
memory is flat in its users' histories.

Under a deadline (`JobContext.deadline`) the users are computed one after the other until it
comes; the rest are released. One user's computation is cut short when it reaches its share of
the budget (then it is that user's failure) or the deadline (then it is released too).

The read and the computation are here; `batch` holds what they collect, and `store` the write
transaction and the channel delivery after it. The formula itself is `core/summary/figures.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.models import User, utcnow
from core.drain.kinds import BatchResult, JobContext
from core.queue import ClaimedJob, Failure
from core.summary.figures import compute_summaries
from core.summary.shapes import CurrencySummary, Txn
from functions import register
from functions.financial_summary import store
from functions.financial_summary.batch import KIND, Batch, Computed, stable

log = logging.getLogger("tally.jobs.financial_summary")

# Transactions summed between two looks at the clock while a user's computation has a limit.
CLOCK_EVERY_TRANSACTIONS = 512


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


def _read_versions(session: Session, batch: Batch) -> None:
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
        batch.previous.setdefault(user_id, {})[currency] = stable(figures)


_TRANSACTIONS = sa.text(
    "SELECT t.user_id, t.date, t.amount_minor, t.currency, t.description, t.category, a.name "
    "FROM transactions AS t JOIN accounts AS a ON a.id = t.account_id "
    "WHERE t.user_id IN :ids ORDER BY t.user_id"
).bindparams(_ids_param("ids"))


def _stream(
    session: Session, ids: list[str], held_rows: int
) -> Iterator[tuple[str, Iterator[Txn]]]:
    """Each user's transactions, one user after the other, `held_rows` rows in memory at most.

    One query whatever the batch: on Postgres a server-side cursor hands the rows over
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


def _compute(session: Session, batch: Batch, ctx: JobContext) -> None:
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
    batch: Batch, user_id: str, rows: Iterator[Txn], ctx: JobContext, today: date
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
    batch.computed[user_id] = Computed(
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


class FinancialSummaryJob:
    name = KIND

    def run(self, jobs: Sequence[ClaimedJob], ctx: JobContext) -> BatchResult:
        started = utcnow()
        batch = Batch(jobs=jobs, clock_started=time.perf_counter())
        changed: set[str] = set()
        with Session(ctx.engine) as session:
            _read_versions(session, batch)
            _compute(session, batch, ctx)
            session.rollback()  # end the read transaction before the write
            if batch.computed or batch.failures:  # nothing to write when all were released
                changed = store.write_batch(session, batch, ctx, started)
                session.commit()
        if batch.outgoing:
            store.send_channels(ctx, batch)
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
        query = sa.select(col(User.data_version), col(User.summary_version)).where(
            col(User.id) == user_id
        )
        with Session(ctx.engine) as session:
            row = session.execute(query).first()
        return None if row is None else (int(row[0]), int(row[1]))

    def reconcile(self, ctx: JobContext, limit: int) -> list[str]:
        """Users whose summary has been dirty for longer than the grace period, oldest first."""
        if limit <= 0:
            return []
        cutoff = datetime.fromtimestamp(ctx.clock() - ctx.settings.reconcile_grace_seconds, UTC)
        dirty = col(User.summary_dirty_since)
        query = (
            sa.select(col(User.id))
            .where(dirty.is_not(None), dirty < cutoff)
            .order_by(dirty)
            .limit(limit)
        )
        with Session(ctx.engine) as session:
            return [str(uid) for uid in session.execute(query).scalars()]


register(FinancialSummaryJob())
