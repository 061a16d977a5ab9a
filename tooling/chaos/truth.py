"""Ground truth: what every summary must say, computed straight from the `transactions` table.

Deliberately independent of `core.summary.figures`: a plain loop over the rows, per user and
currency,
summing positive amounts (income) and negative ones (expenses), counting rows and tracking the
first and last date. The stored summaries must match it exactly, and the queue must hold nothing
that the database does not explain.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from tooling.chaos.env import ChaosEnv
from tooling.chaos.result import ScenarioResult


@dataclass(frozen=True)
class Figures:
    income: int
    expenses: int
    net: int
    count: int
    first: dt.date
    last: dt.date


@dataclass
class _Running:
    income: int = 0
    expenses: int = 0
    count: int = 0
    first: dt.date = dt.date.max
    last: dt.date = dt.date.min

    def add(self, day: dt.date, amount: int) -> None:
        if amount > 0:
            self.income += amount
        else:
            self.expenses -= amount
        self.count += 1
        self.first = min(self.first, day)
        self.last = max(self.last, day)

    def freeze(self) -> Figures:
        net = self.income - self.expenses
        return Figures(self.income, self.expenses, net, self.count, self.first, self.last)


def expected_figures(engine: Engine) -> dict[str, dict[str, Figures]]:
    running: dict[str, dict[str, _Running]] = {}
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True).execute(
            sa.text("SELECT user_id, currency, date, amount_minor FROM transactions")
        )
        for user_id, currency, day, amount in rows:
            running.setdefault(user_id, {}).setdefault(currency, _Running()).add(day, int(amount))
    return {
        user: {currency: acc.freeze() for currency, acc in by_currency.items()}
        for user, by_currency in running.items()
    }


def stored_figures(engine: Engine) -> tuple[dict[str, dict[str, Figures]], list[str]]:
    """The summaries as stored, and any row whose JSON document disagrees with its columns."""
    stored: dict[str, dict[str, Figures]] = {}
    mismatched: list[str] = []
    query = (
        "SELECT user_id, currency, income_minor, expenses_minor, net_minor, transaction_count,"
        " first_date, last_date, figures FROM financial_summaries"
    )
    with engine.connect() as conn:
        for user, currency, inc, exp, net, count, first, last, doc in conn.execute(sa.text(query)):
            figures = Figures(int(inc), int(exp), int(net), int(count), first, last)
            stored.setdefault(user, {})[currency] = figures
            document = json.loads(doc) if isinstance(doc, str) else dict(doc)
            shown = (document.get("income_minor"), document.get("expenses_minor"))
            if shown != (figures.income, figures.expenses):
                mismatched.append(f"{user}/{currency}: JSON {shown} != columns")
    return stored, mismatched


@dataclass
class UserState:
    data_version: int
    summary_version: int
    dirty: bool


def user_states(engine: Engine) -> dict[str, UserState]:
    query = "SELECT id, data_version, summary_version, summary_dirty_since IS NOT NULL FROM users"
    with engine.connect() as conn:
        return {
            str(uid): UserState(int(data), int(summary), bool(dirty))
            for uid, data, summary, dirty in conn.execute(sa.text(query))
        }


@dataclass
class QueueState:
    """Every key of one queue, read straight from Redis (not through the faulty REST server)."""

    pending: list[str] = field(default_factory=list)
    queued: set[str] = field(default_factory=set)
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    retry: dict[str, float] = field(default_factory=dict)
    dead: dict[str, float] = field(default_factory=dict)

    @property
    def leased(self) -> set[str]:
        return {str(job[0]) for claim in self.claims.values() for job in claim["jobs"]}

    @property
    def tracked(self) -> set[str]:
        """Ids the queue will still deliver (dead ones are kept apart: they wait for a human)."""
        return set(self.pending) | self.leased | set(self.retry)


def _scores(pairs: Any) -> dict[str, float]:
    return {str(member): float(score) for member, score in pairs}


def queue_state(env: ChaosEnv) -> QueueState:
    keys = env.keys
    client = env.raw_redis()
    try:
        return QueueState(
            pending=[str(x) for x in client.lrange(keys.pending, 0, -1)],
            queued={str(x) for x in client.zrange(keys.queued, 0, -1)},
            claims={str(k): json.loads(v) for k, v in client.hgetall(keys.claims).items()},
            jobs={str(k): json.loads(v) for k, v in client.hgetall(keys.jobs).items()},
            retry=_scores(client.zrange(keys.retry, 0, -1, withscores=True)),
            dead=_scores(client.zrange(keys.dead, 0, -1, withscores=True)),
        )
    finally:
        client.close()


def check_summaries(result: ScenarioResult, engine: Engine, users: Iterable[str] = ()) -> None:
    """Every user's summary is current and equal to the ground truth (stale otherwise)."""
    expected = expected_figures(engine)
    stored, mismatched = stored_figures(engine)
    states = user_states(engine)
    for message in mismatched:
        result.problem(f"summary document disagrees with its columns: {message}")
    stale: list[str] = []
    for user in sorted(set(states) | set(users)):
        state = states.get(user)
        if state is None:
            stale.append(f"{user}: no user row")
        elif state.summary_version < state.data_version:
            stale.append(f"{user}: summary v{state.summary_version} < data v{state.data_version}")
        elif state.dirty:
            stale.append(f"{user}: current (v{state.summary_version}) but still marked dirty")
        elif stored.get(user, {}) != expected.get(user, {}):
            stale.append(f"{user}: figures differ from the ground truth")
    result.stale += len(stale)
    result.details["users_checked"] = len(states)
    result.problems.extend(f"stale {line}" for line in stale[:20])


def check_queue(
    result: ScenarioResult, env: ChaosEnv, engine: Engine, expect_dead: Iterable[str] = ()
) -> QueueState:
    """Nothing unexplained: every queued id is a dirty user, dead ids only the expected ones."""
    state = queue_state(env)
    users = user_states(engine)
    dirty = {uid for uid, s in users.items() if s.dirty}
    lost = sorted(dirty - state.tracked - set(state.dead))
    result.lost += len(lost)
    result.problems.extend(f"lost: {uid} is dirty and the queue does not hold it" for uid in lost)
    if len(state.pending) != len(set(state.pending)) or set(state.pending) != state.queued:
        result.problem(f"pending/queued disagree: {len(state.pending)} vs {len(state.queued)}")
    for uid in sorted(set(state.pending) - dirty):
        result.problem(f"pending id {uid} is not a dirty user")
    if state.claims:
        result.problem(f"{len(state.claims)} claims still held after every drain stopped")
    for uid in sorted(set(state.retry) - dirty):
        result.problem(f"retrying id {uid} is not a dirty user")
    unexpected_dead = sorted(set(state.dead) - set(expect_dead))
    result.problems.extend(f"dead letter for {uid}" for uid in unexpected_dead)
    orphans = sorted(set(state.jobs) - set(state.retry) - set(state.dead) - state.leased)
    result.problems.extend(f"attempt record left for {uid}" for uid in orphans[:20])
    result.details["queue_left"] = {
        "pending": len(state.pending),
        "claims": len(state.claims),
        "retry": len(state.retry),
        "dead": len(state.dead),
    }
    return state
