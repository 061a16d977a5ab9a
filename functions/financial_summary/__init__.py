"""The `financial-summary` job: recompute the summaries of a whole batch of users.

A batch costs a fixed number of SQL queries, whatever its size: read versions, read the
stored summaries, read last month's rows, read the rollup cells (and the rows of users whose
cells are not built yet), then one write transaction (lock, guarded version update, the cells
of newly built users, replace summaries, job rows, notifications). When optional notification
channels are configured, delivery follows the commit and adds a fixed number of queries (one
SELECT of addresses when email is on, one UPDATE of the outcomes); with none configured it adds
nothing. Under a deadline, one more query bounds the write's wait for row locks.

A user's summary comes from their rollup cells (`core/summary/cells.py`), which every write
keeps current: its cost follows the cells (months x accounts x categories x merchants), not the
number of transactions. A user whose cells are not built yet (data from before the rollups) is
summed from their rows once, and the cells from that pass are stored with the summary. Cells
and rows stream in user by user, `DRAIN_MAX_BATCH_ROWS` at a time, so memory stays flat.

Under a deadline (`JobContext.deadline`) the users are computed one after the other until it
comes; the rest are released. One user's computation is cut short when it reaches its share of
the budget (then it is that user's failure) or the deadline (then it is released too).

`read` holds the queries, the computation is here, `batch` holds what they collect, and `store`
the write transaction and the channel delivery after it. The formula is `core/summary/figures.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.base.models import User, utcnow
from core.drain.kinds import BatchResult, JobContext
from core.queue import ClaimedJob, Failure
from core.summary.cells import PreviousToDate, cells_of, summaries_from_rows
from core.summary.shapes import CurrencySummary, Txn
from core.summary.totals import CellRow
from functions import register
from functions.financial_summary import store
from functions.financial_summary.batch import KIND, Batch, Computed
from functions.financial_summary.read import last_month, read_versions, stream, stream_cells

log = logging.getLogger("tally.jobs.financial_summary")

# Transactions summed between two looks at the clock while a user's computation has a limit.
CLOCK_EVERY_TRANSACTIONS = 512


class _OutOfTime(Exception):
    """A user's computation reached its limit."""


def _checked[T](items: Iterable[T], limit: float, clock: Callable[[], float]) -> Iterator[T]:
    """`items`, raising _OutOfTime once `clock` passes `limit` (looked at every few hundred)."""
    if clock() >= limit:
        raise _OutOfTime
    for count, item in enumerate(items, start=1):
        if count % CLOCK_EVERY_TRANSACTIONS == 0 and clock() >= limit:
            raise _OutOfTime
        yield item


def _limit(ctx: JobContext, started: float) -> tuple[float | None, bool]:
    """When this user's computation must stop, and whether that limit is the user's own share
    of the budget (reaching it is the user's failure) rather than the batch's deadline."""
    share_end = None if ctx.share_seconds is None else started + ctx.share_seconds
    if ctx.deadline is not None and (share_end is None or ctx.deadline < share_end):
        return ctx.deadline, False
    return share_end, True


Bound = Callable[[Iterable[Any]], Iterator[Any]]
# How one user's summary is made, given `bound` (which stops it at its time limit).
Summarise = Callable[[Bound], dict[str, CurrencySummary]]


def _from_cells(cells: Iterable[CellRow], previous: PreviousToDate) -> Summarise:
    return lambda bound: summaries_from_rows(bound(cells), previous)


def _from_rows(
    batch: Batch, user_id: str, rows: Iterable[tuple[Txn, int]], today: date
) -> Summarise:
    """A user whose cells are not built yet: the cells summed from their rows (kept for the
    write, which stores them with the summary), then the summary from those cells."""

    def summarise(bound: Bound) -> dict[str, CurrencySummary]:
        previous = PreviousToDate.empty(today)

        def fed() -> Iterator[tuple[Txn, int]]:
            for txn, account_id in bound(rows):
                previous.add(txn.currency, txn.date, txn.amount_minor)
                yield txn, account_id

        cells = cells_of(fed())
        batch.new_cells[user_id] = cells
        return summaries_from_rows((cell.row for cell in cells.values()), previous)

    return summarise


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
    """Every user's summary: built users' from their cells, the others' from their rows (as
    those stream in); users with neither last."""
    today = datetime.fromtimestamp(ctx.clock(), UTC).date()
    known = [job.id for job in batch.jobs if job.id in batch.versions]
    for job in batch.jobs:
        if job.id not in batch.versions:
            batch.failures[job.id] = Failure(job.id, "no such user", permanent=True)
    done: set[str] = set()

    def release_the_rest() -> None:
        batch.released = [uid for uid in known if uid not in done]

    built = [uid for uid in known if uid in batch.built]
    unbuilt = [uid for uid in known if uid not in batch.built]
    held = ctx.settings.drain_max_batch_rows
    previous = last_month(session, built, today)
    sources = chain(
        (
            (uid, _from_cells(cells, previous[uid]))
            for uid, cells in stream_cells(session, built, held)
        ),
        (
            (uid, _from_rows(batch, uid, rows, today))
            for uid, rows in stream(session, unbuilt, held)
        ),
    )
    for user_id, summarise in sources:
        if not _compute_one(batch, user_id, summarise, ctx):
            return release_the_rest()
        done.add(user_id)
    for user_id in known:
        if user_id not in done:
            empty = _from_rows(batch, user_id, (), today) if user_id in unbuilt else None
            nothing = empty or _from_cells((), PreviousToDate.empty(today))
            if not _compute_one(batch, user_id, nothing, ctx):
                return release_the_rest()
            done.add(user_id)
    return None


def _compute_one(batch: Batch, user_id: str, summarise: Summarise, ctx: JobContext) -> bool:
    """One user's summary, failure or nothing; False when the deadline came first."""
    now = ctx.monotonic()
    if ctx.deadline is not None and now >= ctx.deadline:
        return False
    limit, own_share = _limit(ctx, now)
    counted = _Counted()

    def bound(items: Iterable[Any]) -> Iterator[Any]:
        counting = counted.wrap(items)
        return counting if limit is None else _checked(counting, limit, ctx.monotonic)

    started = time.perf_counter()
    try:
        summaries = summarise(bound)
    except _OutOfTime:
        if not own_share:  # the deadline, not this user, cut it short
            return False
        share = ctx.share_seconds or 0.0
        error = (
            f"the summary took longer than its share of the drain's budget ({share:.1f}s); "
            f"stopped after {counted.count} rows"
        )
        log.warning("summary for one user stopped: %s", error)
        batch.failures[user_id] = Failure(user_id, error)
        batch.new_cells.pop(user_id, None)
        return True
    except sa.exc.SQLAlchemyError:
        raise  # the rows stream in during the computation: the database's failure, not theirs
    except Exception as exc:  # noqa: BLE001 - one user's failure must not fail the batch
        log.warning("summary for one user failed: %s", type(exc).__name__)
        batch.failures[user_id] = Failure(user_id, f"{type(exc).__name__}: {exc}")
        batch.new_cells.pop(user_id, None)
        return True
    too_large = _beyond_columns(summaries)
    if too_large:
        # Failing here fails this user alone; the batch's write would fail everyone's.
        batch.failures[user_id] = Failure(user_id, too_large)
        batch.new_cells.pop(user_id, None)
        return True
    batch.computed[user_id] = Computed(
        version=batch.versions[user_id],
        summaries=summaries,
        seconds=time.perf_counter() - started,
        documents={c: s.model_dump(mode="json") for c, s in summaries.items()},
    )
    return True


class _Counted:
    """Counts the rows (transactions or cells) a user's computation was handed."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def wrap(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.count += 1
            yield item


class FinancialSummaryJob:
    name = KIND

    def run(self, jobs: Sequence[ClaimedJob], ctx: JobContext) -> BatchResult:
        started = utcnow()
        batch = Batch(jobs=jobs, clock_started=time.perf_counter())
        changed: set[str] = set()
        with Session(ctx.engine) as session:
            read_versions(session, batch)
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
