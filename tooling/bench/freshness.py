"""Section 7: how soon a write shows in the summary, with the after-response kick and without.

The app runs under uvicorn in a process of its own, as Vercel's Python runtime serves it, so a
background task runs after its response has gone out, as the kick does in production (in
process, FastAPI's TestClient would wait for it). Two servers run in turn, one with
`KICK_AFTER_WRITE=true` and one with `false`, over users who already have a history
(`--txns-per-user`, loaded by COPY) and a current summary:

- single writes: one `POST /api/transactions` for each of `--fresh-users` users, one after
  another, none waiting for the one before to be fresh;
- bursts: `--bursts` users each write `--burst-writes` times, spread over one second.

"Fresh" is the moment the user's stored summary reflects the data version the write left
(`users.summary_version >= data_version`, as `GET /api/summary?wait_seconds` decides it), seen
by a watcher polling Postgres every few milliseconds; it is timed from the moment the write
was sent (the last write, for a burst).

The cron runs every 10 minutes on a scaled clock: each write is given a moment in the cron's
interval (uniform, seeded), and what no kick made fresh waits for the next tick, which then
runs for real (`?wait=true`): such a write's freshness is the virtual wait to the tick plus the
tick's real time until the user was done. Upstash requests per write are counted from the
writes' first request until every kick has settled; recomputations are the users' rows in
`background_jobs`, the tick's included.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

import psycopg

from core.queue.keys import QueueKeys
from core.writes.ledger import SUMMARY_KIND
from tooling.bench.client import bearer
from tooling.bench.data import conninfo, load_ledger
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import median, ratio
from tooling.bench.report import FreshnessFigures, FreshnessSide
from tooling.bench.server import child_server

if TYPE_CHECKING:
    import httpx

    from tooling.bench.measure import _Reading

WRITE_PATH = "/api/transactions"
CRON_PATH = "/api/cron/process-financial-summary-queue?wait=true"
CRON_INTERVAL_SECONDS = 600.0
BURST_SECONDS = 1.0
POLL_SECONDS = 0.002
# After the last write, how long the kicks may take before what is left is the cron's.
KICK_GRACE_SECONDS = 2.0
TICK_TIMEOUT_SECONDS = 60.0
SETTLE_CHECKS = 3  # no claim held for this many looks in a row: every kick has settled
SETTLE_LOOK_SECONDS = 0.1
SETTLE_TIMEOUT_SECONDS = 30.0


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest rank: the smallest sample at least `pct` percent of the samples are at or below."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


@dataclass(slots=True)
class _Watcher:
    """Polls the users' summary versions on a connection of its own and notes when each is
    fresh (its summary version reached the version it is expected to reach)."""

    database_url: str
    expected: dict[str, int] = field(default_factory=dict)
    fresh_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> _Watcher:
        self._thread = threading.Thread(target=self._run, name="freshness-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def expect(self, user_id: str, version: int) -> None:
        with self._lock:
            self.expected[user_id] = version
            self.fresh_at.pop(user_id, None)

    def wait(self, users: Iterable[str], timeout: float) -> list[str]:
        """Wait until every one of `users` is fresh or `timeout`; the ones that are not."""
        wanted = list(users)
        deadline = time.perf_counter() + timeout
        while True:
            with self._lock:
                left = [u for u in wanted if u not in self.fresh_at]
            if not left or time.perf_counter() >= deadline:
                return left
            time.sleep(POLL_SECONDS * 5)

    def _run(self) -> None:
        with psycopg.connect(conninfo(self.database_url), autocommit=True) as conn:
            while not self._stop.is_set():
                with self._lock:
                    waiting = {u: v for u, v in self.expected.items() if u not in self.fresh_at}
                if waiting:
                    rows = conn.execute(
                        "SELECT id, summary_version FROM users WHERE id = ANY(%s)",
                        (list(waiting),),
                    ).fetchall()
                    seen = time.perf_counter()
                    with self._lock:
                        for user_id, version in rows:
                            if version >= waiting[user_id]:
                                self.fresh_at.setdefault(user_id, seen)
                time.sleep(POLL_SECONDS)


@dataclass(slots=True)
class _Write:
    """One measured write (the last of a burst): who, when it was sent, its cron moment."""

    user_id: str
    sent: float
    phase: float  # seconds into the cron's interval, on the scaled clock


@dataclass(slots=True)
class _Side:
    kick: bool
    env: BenchEnvironment
    config: BenchConfig
    rng: random.Random
    watcher: _Watcher
    answers: list[float] = field(default_factory=list)

    def write(self, client: httpx.Client, user_id: str, amount: str) -> float:
        body = {
            "date": "2024-06-15",
            "amount": amount,
            "currency": "USD",
            "description": "COFFEE HOUSE DOWNTOWN",
            "category": "Dining",
        }
        sent = time.perf_counter()
        response = client.post(WRITE_PATH, json=body, headers=bearer(user_id, self.env.settings))
        self.answers.append(time.perf_counter() - sent)
        if response.status_code != 201:
            raise RuntimeError(f"write failed: {response.status_code} {response.text[:500]}")
        return sent

    def expect_current(self, reader: psycopg.Connection, user_id: str) -> None:
        row = reader.execute("SELECT data_version FROM users WHERE id = %s", (user_id,)).fetchone()
        assert row is not None, f"{user_id} has no row after its write"
        self.watcher.expect(user_id, int(row[0]))

    def settle(
        self, client: httpx.Client, writes: list[_Write], before: _Reading
    ) -> tuple[list[float], int, int]:
        """After the writes: the kicks' time, then the tick's. Freshness per write, Upstash
        requests from `before` until the kicks settled, users left to the tick."""
        users = [w.user_id for w in writes]
        if self.kick:
            self.watcher.wait(users, self._kick_wait)
        self._wait_for_no_claims()
        requests = self.env.meter.since(before)["requests"]
        left = set(self.watcher.wait(users, 0))
        tick = time.perf_counter()
        if left:
            response = client.get(CRON_PATH, headers={"Authorization": self._cron_auth})
            response.raise_for_status()
        stuck = self.watcher.wait(left, TICK_TIMEOUT_SECONDS)
        if stuck:
            raise RuntimeError(f"{len(stuck)} users never became fresh, e.g. {stuck[0]}")
        fresh_at = self.watcher.fresh_at
        seconds = [
            CRON_INTERVAL_SECONDS - w.phase + fresh_at[w.user_id] - tick
            if w.user_id in left
            else fresh_at[w.user_id] - w.sent
            for w in writes
        ]
        return seconds, requests, len(left)

    @property
    def _kick_wait(self) -> float:
        return self.env.settings.kick_budget_seconds + KICK_GRACE_SECONDS

    @property
    def _cron_auth(self) -> str:
        return f"Bearer {self.env.cron_secret}"

    def _wait_for_no_claims(self) -> None:
        claims = QueueKeys(self.env.queue_prefix, SUMMARY_KIND).claims
        deadline = time.perf_counter() + SETTLE_TIMEOUT_SECONDS
        quiet = 0
        while quiet < SETTLE_CHECKS and time.perf_counter() < deadline:
            quiet = quiet + 1 if self.env.raw.hlen(claims) == 0 else 0
            time.sleep(SETTLE_LOOK_SECONDS)

    def phase(self) -> float:
        return self.rng.uniform(0, CRON_INTERVAL_SECONDS)


def _users(kind: str, side: str, count: int) -> list[str]:
    return [f"fresh-{side}-{kind}-{i:04d}" for i in range(count)]


def _make_current(url: str, users: Sequence[str]) -> None:
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(
            "UPDATE users SET summary_version = data_version, summary_dirty_since = NULL "
            "WHERE id = ANY(%s)",
            (list(users),),
        )


def _recomputations(url: str, users: Sequence[str]) -> list[int]:
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT user_id, count(*) FROM background_jobs WHERE user_id = ANY(%s) "
            "GROUP BY user_id",
            (list(users),),
        ).fetchall()
    counts = {str(user): int(n) for user, n in rows}
    return [counts.get(user, 0) for user in users]


def _measure_side(
    kick: bool, env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> FreshnessSide:
    name = "on" if kick else "off"
    singles = _users("single", name, config.fresh_users)
    bursts = _users("burst", name, config.bursts)
    warm = _users("warm", name, 1)
    load_ledger(env.database_url, [*singles, *bursts, *warm], config.txns_per_user, config.seed)
    _make_current(env.database_url, [*singles, *bursts, *warm])
    rng = random.Random(f"{config.seed}-{name}")
    extra_env = {"KICK_AFTER_WRITE": "true" if kick else "false"}
    with (
        child_server(extra_env=extra_env) as client,
        _Watcher(env.database_url) as watcher,
        psycopg.connect(conninfo(env.database_url), autocommit=True) as reader,
    ):
        side = _Side(kick, env, config, rng, watcher)
        # Warm-up: the server's first write, kick and tick import and connect what they need.
        before = env.meter.reading()
        side.write(client, warm[0], "-1.00")
        side.expect_current(reader, warm[0])
        side.settle(client, [_Write(warm[0], time.perf_counter(), 0.0)], before)
        side.answers.clear()

        echo(f"freshness, kicks {name}: {len(singles)} single writes")
        writes: list[_Write] = []
        before = env.meter.reading()
        for user in singles:
            sent = side.write(client, user, "-4.20")
            side.expect_current(reader, user)
            writes.append(_Write(user, sent, side.phase()))
        single_seconds, single_requests, single_left = side.settle(client, writes, before)
        single_answers = list(side.answers)

        echo(f"freshness, kicks {name}: {len(bursts)} bursts of {config.burst_writes} writes")
        writes = []
        gap = BURST_SECONDS / config.burst_writes
        before = env.meter.reading()
        for user in bursts:
            start = time.perf_counter()
            sent = start
            for i in range(config.burst_writes):
                time.sleep(max(0.0, start + i * gap - time.perf_counter()))
                sent = side.write(client, user, f"-{1 + i}.00")
            side.expect_current(reader, user)
            writes.append(_Write(user, sent, side.phase()))
        burst_seconds, burst_requests, burst_left = side.settle(client, writes, before)
    recomputed = _recomputations(env.database_url, bursts)
    burst_total = config.bursts * config.burst_writes
    return FreshnessSide(
        kick=kick,
        single_p50_seconds=percentile(single_seconds, 50),
        single_p95_seconds=percentile(single_seconds, 95),
        burst_p50_seconds=percentile(burst_seconds, 50),
        burst_p95_seconds=percentile(burst_seconds, 95),
        single_left_to_cron=single_left,
        burst_left_to_cron=burst_left,
        requests_per_single_write=single_requests / len(singles),
        requests_per_burst_write=burst_requests / burst_total,
        recomputations_per_burst_max=max(recomputed),
        recomputations_per_burst_mean=sum(recomputed) / len(recomputed),
        write_answer_p50_seconds=median(single_answers),
        samples_single_seconds=single_seconds,
        samples_burst_seconds=burst_seconds,
    )


def measure_freshness(
    env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> FreshnessFigures:
    on = _measure_side(True, env, config, echo)
    off = _measure_side(False, env, config, echo)
    return FreshnessFigures(
        users=config.fresh_users,
        bursts=config.bursts,
        burst_writes=config.burst_writes,
        txns_per_user=config.txns_per_user,
        cron_interval_seconds=CRON_INTERVAL_SECONDS,
        kick_budget_seconds=env.settings.kick_budget_seconds,
        kick_p95_seconds=max(on["single_p95_seconds"], on["burst_p95_seconds"]),
        extra_requests_per_write=max(
            on["requests_per_single_write"] - off["requests_per_single_write"],
            on["requests_per_burst_write"] - off["requests_per_burst_write"],
        ),
        recomputations_per_burst_max=on["recomputations_per_burst_max"],
        p95_ratio_off_to_on=ratio(off["single_p95_seconds"], on["single_p95_seconds"]),
        kicks_on=on,
        kicks_off=off,
    )
