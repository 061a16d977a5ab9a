"""Sections 1 and 2: drain throughput against a naive drain and the database floor, and what
the drain and the enqueue cost on Upstash.

Each repetition runs the three measurements back to back, in alternating order, so the slow
drift of a shared machine lands on all of them alike. Before each drain the summaries are reset
and the users queued again, so every repetition does the same work.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from core.drain import runner as core_drain
from core.drain.kinds import JobContext, JobKind
from core.queue import ClaimedJob, JobQueue
from core.queue.client import get_redis
from core.writes.ledger import SUMMARY_KIND
from functions import get_kind
from functions.financial_summary.batch import Batch
from functions.financial_summary.read import last_month, read_versions, stream_cells
from tooling.bench.data import load_ledger, mark_all_fresh, reset_summaries, user_ids
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import median, ratio, trusted
from tooling.bench.naive import naive_drain
from tooling.bench.report import DrainFigures, UpstashFigures, UpstashUsage

Echo = Callable[[str], None]
# Enqueues of users already pending, to price the coalescing path of the write path.
PENDING_PROBES = 100
SETUP_ENQUEUE_CHUNK = 1000

# The two reads of the job's `_read` that fetch a batch's input: versions, then transactions.
_VERSIONS = sa.text("SELECT id, data_version FROM users WHERE id IN :ids").bindparams(
    sa.bindparam("ids", expanding=True)
)
_TRANSACTIONS = sa.text(
    "SELECT user_id, date, amount_minor, currency, description, category "
    "FROM transactions WHERE user_id IN :ids"
).bindparams(sa.bindparam("ids", expanding=True))


@dataclass(slots=True)
class _Samples:
    drain: list[float] = field(default_factory=list)
    naive: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    own_reads: list[float] = field(default_factory=list)
    drain_usage: list[UpstashUsage] = field(default_factory=list)
    naive_usage: list[UpstashUsage] = field(default_factory=list)
    enqueue_usage: list[UpstashUsage] = field(default_factory=list)
    pending_usage: list[UpstashUsage] = field(default_factory=list)


@dataclass(slots=True)
class _Run:
    env: BenchEnvironment
    kind: JobKind
    queue: JobQueue
    users: list[str]
    naive_users: list[str]
    samples: _Samples = field(default_factory=_Samples)

    def drain(self) -> None:
        reset_summaries(self.env.database_url)
        self._enqueue_one_by_one()
        settings = self.env.settings
        opts = core_drain.DrainOptions(batch_size=settings.drain_batch_size)
        before = self.env.meter.reading()
        started = time.perf_counter()
        stats = core_drain.run(self.kind, "bench", opts, settings)
        self.samples.drain.append(time.perf_counter() - started)
        self.samples.drain_usage.append(self.env.meter.since(before))
        if stats.succeeded != len(self.users) or stats.remaining != 0:
            raise RuntimeError(f"the drain did not finish the work: {stats.model_dump_json()}")

    def _enqueue_one_by_one(self) -> None:
        """Queue every user with one call each, as the write path does, and price it."""
        meter = self.env.meter
        before = meter.reading()
        for uid in self.users:
            self.queue.enqueue(uid)
        self.samples.enqueue_usage.append(meter.since(before))
        before = meter.reading()
        for uid in self.users[:PENDING_PROBES]:
            self.queue.enqueue(uid)  # already pending: coalesced
        self.samples.pending_usage.append(meter.since(before))

    def naive(self) -> None:
        reset_summaries(self.env.database_url)
        for start in range(0, len(self.naive_users), SETUP_ENQUEUE_CHUNK):
            self.queue.enqueue(*self.naive_users[start : start + SETUP_ENQUEUE_CHUNK])
        ctx = JobContext(
            kind=self.kind.name,
            run_id=uuid.uuid4().hex,
            trigger="bench-naive",
            settings=self.env.settings,
            engine=self.env.engine,
        )
        before = self.env.meter.reading()
        started = time.perf_counter()
        done = naive_drain(self.kind, self.queue, ctx)
        self.samples.naive.append(time.perf_counter() - started)
        self.samples.naive_usage.append(self.env.meter.since(before))
        if done != len(self.naive_users):
            raise RuntimeError(f"the naive drain finished {done} of {len(self.naive_users)} jobs")

    def floor(self) -> None:
        batch = self.env.settings.drain_batch_size
        started = time.perf_counter()
        read_floor(self.env.engine, self.users, batch)
        self.samples.floor.append(time.perf_counter() - started)

    def own_reads(self) -> None:
        # The state the timed drain starts from (no stored summary to compare with).
        reset_summaries(self.env.database_url)
        batch = self.env.settings.drain_batch_size
        held = self.env.settings.drain_max_batch_rows
        started = time.perf_counter()
        read_as_the_drain(self.env.engine, self.users, batch, held)
        self.samples.own_reads.append(time.perf_counter() - started)


def read_floor(engine: Engine, users: Sequence[str], batch_size: int) -> int:
    """Only the batch reads a drain cannot avoid; returns the transaction rows fetched.

    A connection per batch, as the drain opens one per batch on the serverless (NullPool) engine.
    """
    fetched = 0
    for start in range(0, len(users), batch_size):
        ids = list(users[start : start + batch_size])
        with engine.connect() as conn:
            conn.execute(_VERSIONS, {"ids": ids}).all()
            fetched += len(conn.execute(_TRANSACTIONS, {"ids": ids}).all())
    return fetched


def read_as_the_drain(engine: Engine, users: Sequence[str], batch_size: int, held_rows: int) -> int:
    """The reads the drain itself makes, through the job's own read functions (versions and
    stored summaries, last month's rows, the rollup cells), by batch; returns the cells read.
    What the drain adds on top of this is its computation and its write transaction."""
    cells = 0
    today = datetime.now(UTC).date()
    for start in range(0, len(users), batch_size):
        ids = list(users[start : start + batch_size])
        jobs = [ClaimedJob(id=uid, attempt=1) for uid in ids]
        with Session(engine) as session:
            read_versions(session, Batch(jobs=jobs))
            last_month(session, ids, today)
            for _, rows in stream_cells(session, ids, held_rows):
                cells += sum(1 for _ in rows)
    return cells


def measure_drain(
    env: BenchEnvironment, config: BenchConfig, echo: Echo
) -> tuple[DrainFigures, UpstashFigures]:
    users = user_ids(config.users)
    echo(f"loading {config.users:,} users x {config.txns_per_user} transactions")
    transactions = load_ledger(env.database_url, users, config.txns_per_user, config.seed)
    kind = get_kind(SUMMARY_KIND)
    queue = JobQueue(get_redis(), kind.name, env.settings)
    naive_users = users[: max(1, min(config.naive_users, len(users)))]
    run = _Run(env=env, kind=kind, queue=queue, users=users, naive_users=naive_users)
    for rep in range(config.repeat):
        steps = (run.drain, run.naive, run.floor, run.own_reads)
        for step in steps if rep % 2 == 0 else reversed(steps):
            step()
        s = run.samples
        echo(
            f"  drain rep {rep + 1}/{config.repeat}: drain {s.drain[-1]:.2f}s, "
            f"naive {s.naive[-1]:.2f}s ({len(naive_users)} users), floor {s.floor[-1]:.2f}s, "
            f"the drain's reads {s.own_reads[-1]:.2f}s"
        )
    # The naive runs leave the users they did not cover dirty; later sections expect quiet.
    mark_all_fresh(env.database_url)
    drain = _drain_figures(run.samples, config, transactions, len(naive_users), env)
    return drain, _upstash_figures(run.samples, len(users), len(naive_users))


def _drain_figures(
    s: _Samples, config: BenchConfig, transactions: int, naive_users: int, env: BenchEnvironment
) -> DrainFigures:
    seconds, naive, floor = median(s.drain), median(s.naive), median(s.floor)
    own_reads = median(s.own_reads)
    per_second = config.users / seconds
    naive_per_second = naive_users / naive
    return DrainFigures(
        users=config.users,
        transactions=transactions,
        batch_size=env.settings.drain_batch_size,
        repeat=config.repeat,
        seconds=seconds,
        users_per_second=per_second,
        naive_users=naive_users,
        naive_seconds=naive,
        naive_users_per_second=naive_per_second,
        speedup_vs_naive=ratio(per_second, naive_per_second),
        floor_seconds=floor,
        floor_users_per_second=config.users / floor,
        drain_to_floor=ratio(seconds, floor),
        own_reads_seconds=own_reads,
        own_reads_to_floor=ratio(own_reads, floor),
        samples_seconds=s.drain,
        samples_naive_seconds=s.naive,
        samples_floor_seconds=s.floor,
        samples_own_reads_seconds=s.own_reads,
    )


def _per_call(usages: Sequence[UpstashUsage], what: str, calls: int) -> float:
    """Median per call; billed counts only from windows no other Redis client disturbed."""
    if what == "requests":
        return median([float(u["requests"]) for u in usages]) / (calls or 1)
    return median([float(u["billed"]) for u in trusted(usages)]) / (calls or 1)


def _upstash_figures(s: _Samples, users: int, naive_users: int) -> UpstashFigures:
    probes = min(PENDING_PROBES, users)
    drain_billed = _per_call(s.drain_usage, "billed", users)
    naive_billed = _per_call(s.naive_usage, "billed", naive_users)
    measured = (s.drain_usage, s.naive_usage, s.enqueue_usage, s.pending_usage)
    return UpstashFigures(
        drain_requests_per_job=_per_call(s.drain_usage, "requests", users),
        drain_billed_per_job=drain_billed,
        naive_requests_per_job=_per_call(s.naive_usage, "requests", naive_users),
        naive_billed_per_job=naive_billed,
        billed_ratio_naive_to_drain=ratio(naive_billed, drain_billed),
        enqueue_requests_per_call=_per_call(s.enqueue_usage, "requests", users),
        enqueue_billed_per_call=_per_call(s.enqueue_usage, "billed", users),
        enqueue_pending_billed_per_call=_per_call(s.pending_usage, "billed", probes),
        drain_billed_by_command=trusted(s.drain_usage)[-1]["by_command"],
        clean=all(any(u["clean"] for u in usages) for usages in measured),
    )
