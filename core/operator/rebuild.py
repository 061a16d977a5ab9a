"""`drain.py --rebuild` and `--verify`: the rollup cells from the rows, for when the summary's
formula changes (or rows were changed behind the app's back), and a drift check.

A rebuild goes through the users in id order, `batch` at a time, each batch in one transaction:
it re-sums every cell of each user from their rows (`core.summary.rollups.rebuild`), forgets the
stored summary's version so that the recomputation is stored even at an unchanged data version,
commits, then runs the job kind on the batch (the drain's own job, `trigger=rebuild`). An
interrupted rebuild loses at most the batch in flight and says where to resume (`--after ID`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col

from core.base.models import User
from core.base.settings import Settings
from core.drain.kinds import JobContext, JobKind
from core.queue import ClaimedJob
from core.summary import rollups

Report = Callable[[str], None]


@dataclass(slots=True)
class RebuildResult:
    users: int = 0
    cells: int = 0
    failed: list[str] = field(default_factory=list)
    last_user: str | None = None


def _batches(
    engine: Engine, users: Sequence[str] | None, batch: int, after: str | None
) -> tuple[int, Callable[[], list[str]]]:
    """How many users there are to do, and a function giving the next batch of ids ([] at the
    end): the named ones, or every user after `after` in id order (keyset paging)."""
    if users:
        chosen = iter(sorted(set(users)))
        return len(set(users)), lambda: list(islice(chosen, batch))
    where = [] if after is None else [col(User.id) > after]
    with Session(engine) as session:
        total = int(
            session.execute(sa.select(sa.func.count()).where(*where).select_from(User)).scalar_one()
        )
    last: list[str | None] = [after]

    def page() -> list[str]:
        query = sa.select(col(User.id)).order_by(col(User.id)).limit(batch)
        if last[0] is not None:
            query = query.where(col(User.id) > last[0])
        with Session(engine) as session:
            ids = [str(uid) for uid in session.execute(query).scalars()]
        if ids:
            last[0] = ids[-1]
        return ids

    return total, page


def rebuild(
    engine: Engine,
    kind: JobKind,
    settings: Settings,
    report: Report,
    *,
    users: Sequence[str] | None = None,
    batch: int = 100,
    after: str | None = None,
    result: RebuildResult | None = None,
) -> RebuildResult:
    """Rebuild the cells and recompute the summaries of `users` (all users when None); fills
    `result` as it goes (what an interrupted run got to)."""
    total, next_batch = _batches(engine, users, batch, after)
    result = result if result is not None else RebuildResult()
    started = time.monotonic()
    while ids := next_batch():
        with Session(engine) as session:
            existing = []
            for user_id in ids:
                if session.get(User, user_id) is None:
                    result.failed.append(f"{user_id}: no such user")
                    continue
                result.cells += rollups.rebuild(session, user_id)
                existing.append(user_id)
            session.execute(
                sa.update(User)
                .where(col(User.id).in_(existing))
                .values(summary_version=0)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        if existing:
            ctx = JobContext(
                kind=kind.name,
                run_id=uuid.uuid4().hex,
                trigger="rebuild",
                settings=settings,
                engine=engine,
            )
            outcome = kind.run([ClaimedJob(uid, 1) for uid in existing], ctx)
            result.failed += [f"{f.id}: {f.error}" for f in outcome.failed]
        result.users += len(existing)
        result.last_user = ids[-1]
        rate = result.users / max(time.monotonic() - started, 1e-6)
        report(
            f"rebuilt {result.users}/{total} users, {result.cells} cells, {rate:.0f} users/s"
            f" (last {result.last_user})"
        )
    return result


def verify(
    engine: Engine,
    report: Report,
    *,
    users: Sequence[str] | None = None,
    batch: int = 100,
) -> dict[str, list[str]]:
    """Each user whose stored cells differ from their rows, with how (empty: no drift)."""
    _, next_batch = _batches(engine, users, batch, None)
    drifted: dict[str, list[str]] = {}
    checked = 0
    while ids := next_batch():
        with Session(engine) as session:
            for user_id in ids:
                problems = rollups.drift(session, user_id)
                if problems:
                    drifted[user_id] = problems
        checked += len(ids)
        report(f"checked {checked} users, {len(drifted)} with drift")
    return drifted
