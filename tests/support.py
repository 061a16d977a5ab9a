from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from core.base.db import get_engine
from core.base.settings import Settings, get_settings
from core.drain.kinds import JobContext
from core.queue import JobQueue
from core.queue.client import get_redis
from core.writes.ledger import NewTransaction, add_transactions

CURRENCIES = ("USD", "EUR", "JPY")
CATEGORIES = ("Groceries", "Rent", "Dining", "Salary", None)
MERCHANTS = ("Tesco Stores 3017", "NETFLIX.COM 866-579-7172", "Shell #1234", "Employer Ltd")


def generate(user: str, rng: random.Random, count: int) -> list[NewTransaction]:
    """Several currencies, whole months with no activity, refunds and salaries."""
    rows = []
    start = dt.date(2025, 1, 1)
    for _ in range(count):
        month_offset = rng.choice([0, 1, 2, 5, 6, 9])  # months 3-4 and 7-8 stay empty
        day = start + dt.timedelta(days=month_offset * 30 + rng.randint(0, 27))
        currency = rng.choice(CURRENCIES)
        amount = rng.randint(-50_000, 20_000) or 1
        rows.append(
            NewTransaction(
                date=day,
                amount_minor=amount,
                currency=currency,
                description=rng.choice(MERCHANTS),
                category=rng.choice(CATEGORIES),
            )
        )
    return rows


@dataclass
class World:
    """A test's database and queue, with helpers to seed and inspect them."""

    engine: Engine
    queue: JobQueue
    settings: Settings
    expected: dict[str, list[NewTransaction]] = field(default_factory=dict)

    def seed(self, users: int, per_user: int, seed: int = 1, enqueue: bool = True) -> list[str]:
        rng = random.Random(seed)
        ids = [f"user-{seed}-{i:04d}" for i in range(users)]
        with Session(self.engine) as session:
            for uid in ids:
                rows = generate(uid, rng, per_user)
                add_transactions(session, uid, rows)
                self.expected.setdefault(uid, []).extend(rows)
            session.commit()
        if enqueue:
            self.queue.enqueue(*ids)
        return ids

    def context(self, run_id: str = "test-run", trigger: str = "test") -> JobContext:
        return JobContext(
            kind="financial-summary",
            run_id=run_id,
            trigger=trigger,
            settings=self.settings,
            engine=self.engine,
        )

    def scalar(self, sql: str, **params: object) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params: object) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))


def make_world() -> World:
    settings = get_settings()
    return World(
        engine=get_engine(),
        queue=JobQueue(get_redis(), "financial-summary", settings),
        settings=settings,
    )


class QueryCounter:
    """Counts SQL queries sent through `engine`: SQLAlchemy executions and COPY commands
    (core.base.bulk streams COPY on the driver connection, which SQLAlchemy's events do not see)."""

    def __init__(self, engine: Engine, monkeypatch: Any) -> None:
        import psycopg

        self.count = 0
        self.copies = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)
        original = psycopg.Cursor.copy

        def counting_copy(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            self.copies += 1
            return original(cursor, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "copy", counting_copy)

    def _count(self, *args: Any, **kwargs: Any) -> None:
        self.count += 1
