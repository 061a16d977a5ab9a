"""Users changing their data through the real HTTP API, and a model of what must be stored.

Each writer thread owns a disjoint set of users and keeps, per transaction id, what the API
answered. Only 2xx answers change the model, so after a run the `transactions` table must equal
it exactly: a missing id is a lost write, an extra row a write stored twice.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core.base.auth import mint_token
from core.base.settings import get_settings
from tooling.chaos.result import ScenarioResult

CURRENCIES = ("USD", "EUR", "JPY")
MERCHANTS = ("Tesco Stores 3017", "NETFLIX.COM 866-579-7172", "Shell #1234", "ACME PAYROLL")


@dataclass(frozen=True)
class Row:
    user: str
    date: dt.date
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class Write:
    user: str
    op: str
    status: int
    started: float  # wall clock (s), comparable with the drains' timestamps
    ended: float


@dataclass
class WriteLog:
    writes: list[Write] = field(default_factory=list)
    rows: dict[int, Row] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)

    def by_user(self) -> dict[str, list[Write]]:
        grouped: dict[str, list[Write]] = {}
        for write in self.writes:
            if 200 <= write.status < 300:
                grouped.setdefault(write.user, []).append(write)
        return grouped


def _random_row(rng: random.Random) -> dict[str, Any]:
    return {
        "date": (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 540))).isoformat(),
        "amount": rng.randint(-50_000, 30_000),
        "currency": rng.choice(CURRENCIES),
        "description": rng.choice(MERCHANTS),
    }


class _Writer:
    """One thread's users and client; every request is logged with its answer."""

    def __init__(self, client: TestClient, log: WriteLog, users: Sequence[str], seed: int) -> None:
        self.client = client
        self.log = log
        self.users = list(users)
        self.rng = random.Random(seed)
        self.owned: dict[str, list[int]] = {user: [] for user in users}
        settings = get_settings()
        self.headers = {u: {"Authorization": f"Bearer {mint_token(u, settings)}"} for u in users}

    def _call(self, user: str, op: str, method: str, path: str, body: Any) -> Any:
        started = time.time()
        response = self.client.request(method, path, json=body, headers=self.headers[user])
        self.log.record(Write(user, op, response.status_code, started, time.time()))
        if not 200 <= response.status_code < 300:
            with self.log.lock:
                self.log.failures.append(f"{op} {user}: {response.status_code} {response.text}")
            return None
        return response.json() if response.content else {}

    def create(self, user: str) -> None:
        body = [_random_row(self.rng) for _ in range(self.rng.randint(1, 4))]
        created = self._call(user, "create", "POST", "/api/transactions", body)
        for item in created or []:
            self._remember(user, item)
            self.owned[user].append(int(item["id"]))

    def patch(self, user: str) -> None:
        txn_id = self.rng.choice(self.owned[user])
        body = {"amount": self.rng.randint(-50_000, 30_000)}
        updated = self._call(user, "patch", "PATCH", f"/api/transactions/{txn_id}", body)
        if updated is not None:
            self._remember(user, updated)

    def delete(self, user: str) -> None:
        txn_id = self.rng.choice(self.owned[user])
        if self._call(user, "delete", "DELETE", f"/api/transactions/{txn_id}", None) is not None:
            self.owned[user].remove(txn_id)
            with self.log.lock:
                self.log.rows.pop(txn_id, None)

    def _remember(self, user: str, item: dict[str, Any]) -> None:
        row = Row(user, dt.date.fromisoformat(item["date"]), item["amount_minor"], item["currency"])
        with self.log.lock:
            self.log.rows[int(item["id"])] = row

    def step(self) -> None:
        user = self.rng.choice(self.users)
        roll = self.rng.random()
        if not self.owned[user] or roll < 0.6:
            self.create(user)
        elif roll < 0.85:
            self.patch(user)
        else:
            self.delete(user)


def run_writers(
    app_factory: Callable[[], Any],
    users: Sequence[str],
    threads: int,
    operations: int,
    seed: int = 7,
    log: WriteLog | None = None,
) -> WriteLog:
    """`operations` API writes spread over `threads` threads; returns when all are answered."""
    log = log or WriteLog()
    app = app_factory()
    errors: list[BaseException] = []

    def work(index: int) -> None:
        mine = [u for i, u in enumerate(users) if i % threads == index]
        count = operations // threads + (1 if index < operations % threads else 0)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                writer = _Writer(client, log, mine, seed * 1000 + index)
                for user in mine:  # every user exists and has a row before anything else
                    writer.create(user)
                for _ in range(max(0, count - len(mine))):
                    writer.step()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,), name=f"writer-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return log


def check_writes(result: ScenarioResult, engine: Engine, log: WriteLog) -> None:
    """The table holds exactly the model: nothing lost, nothing stored twice."""
    query = "SELECT id, user_id, date, amount_minor, currency FROM transactions"
    with engine.connect() as conn:
        table = {
            int(i): Row(str(u), d, int(a), str(c)) for i, u, d, a, c in conn.execute(sa.text(query))
        }
    writers_users = {row.user for row in log.rows.values()} | {w.user for w in log.writes}
    missing = [i for i in log.rows if i not in table]
    changed = [i for i, row in log.rows.items() if i in table and table[i] != row]
    extra = [i for i, row in table.items() if row.user in writers_users and i not in log.rows]
    result.lost += len(missing) + len(changed)
    result.duplicated += len(extra)
    result.problems.extend(f"write lost: transaction {i}" for i in missing[:10])
    result.problems.extend(f"write changed: transaction {i}" for i in changed[:10])
    result.problems.extend(f"row nobody wrote: transaction {i}" for i in extra[:10])
    result.problems.extend(f"write refused: {line}" for line in log.failures[:10])
    result.details["writes"] = len(log.writes)
    result.details["writes_failed"] = len(log.failures)


class CronPinger:
    """Threads calling the cron endpoint back to back, as overlapping cron ticks would.

    A run the queue stopped answers 503 with `stop_reason: error`; anything else outside 2xx is
    recorded as a failure.
    """

    PATH = "/api/cron/process-financial-summary-queue?wait=true"  # the run's figures

    def __init__(self, app_factory: Callable[[], Any], threads: int, secret: str) -> None:
        self._app = app_factory()
        self._headers = {"Authorization": f"Bearer {secret}"}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"cron-{i}", daemon=True)
            for i in range(threads)
        ]
        self.runs: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> CronPinger:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()

    def _run(self) -> None:
        with TestClient(self._app, raise_server_exceptions=False) as client:
            while not self._stop.is_set():
                response = client.get(self.PATH, headers=self._headers)
                body = response.json() if response.content else {}
                ok = response.status_code == 200 or (
                    response.status_code == 503 and body.get("stop_reason") == "error"
                )
                with self._lock:
                    self.runs.append(body)
                    if not ok:
                        self.failures.append(f"cron: {response.status_code} {response.text}")
                if body.get("stop_reason") == "empty":
                    self._stop.wait(0.02)  # an idle tick: let the writers fill the queue again
