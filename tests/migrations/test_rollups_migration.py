"""0004 (summary_rollups) on a database populated at 0003: existing users get their cells from
the first drain that computes them (or `--rebuild`), and writes keep them current from then on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core.base.db import make_engine
from core.base.migrate import upgrade
from core.base.settings import Settings
from core.drain.kinds import JobContext
from core.queue import ClaimedJob
from core.summary.figures import compute_summaries
from core.summary.rollups import drift
from core.summary.shapes import Txn
from core.writes.ledger import NewTransaction, add_transactions
from functions import get_kind

KIND = get_kind("financial-summary")
ROWS = [
    ("alice", "2025-01-31", -500, "USD", "Monthly account fee", "Fees"),
    ("alice", "2025-02-01", 1000, "EUR", "Refund", None),
    ("alice", "2025-02-03", -250, "EUR", "COFFEE HOUSE 12", "Dining"),
    ("bob", "2025-01-31", -500, "USD", "Monthly account fee", None),
]
USERS = ("alice", "bob", "carol")  # carol has no transactions


def _populate_0003(url: str) -> None:
    upgrade(url, "0003")
    engine = make_engine(url)
    now = "2025-03-01 00:00:00"
    with engine.begin() as conn:
        for user in USERS:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, created_at, data_version, summary_version)"
                    " VALUES (:id, :now, 1, 0)"
                ),
                {"id": user, "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO accounts (user_id, name, created_at) VALUES (:u, 'default', :now)"
                ),
                {"u": user, "now": now},
            )
        for user, day, amount, currency, description, category in ROWS:
            conn.execute(
                sa.text(
                    "INSERT INTO transactions (user_id, account_id, date, amount_minor, currency,"
                    " description, category, created_at, updated_at)"
                    " SELECT user_id, id, :d, :a, :c, :t, :g, :now, :now FROM accounts"
                    " WHERE user_id = :u"
                ),
                {"u": user, "d": day, "a": amount, "c": currency, "t": description,
                 "g": category, "now": now},
            )  # fmt: skip
    engine.dispose()


def _expected(user: str, today: dt.date) -> dict[str, object]:
    txns = [
        Txn(dt.date.fromisoformat(d), a, c, t, g, "default")
        for u, d, a, c, t, g in ROWS
        if u == user
    ]
    return {c: s.model_dump(mode="json") for c, s in compute_summaries(txns, today=today).items()}


def _check(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            built = conn.execute(sa.text("SELECT count(*) FROM users WHERE rollups_built")).scalar()
        assert built == 0  # nothing is built by the migration itself
        settings = Settings(_env_file=None, database_url=url)
        ctx = JobContext(
            kind=KIND.name, run_id="m", trigger="test", settings=settings, engine=engine
        )
        result = KIND.run([ClaimedJob(u, 1) for u in USERS], ctx)
        assert sorted(result.ok) == sorted(USERS)
        today = dt.datetime.fromtimestamp(ctx.clock(), dt.UTC).date()
        with Session(engine) as session:
            flags = dict(session.execute(sa.text("SELECT id, rollups_built FROM users")).all())
            assert all(flags[u] for u in USERS)
            assert all(drift(session, u) == [] for u in USERS)
            cells = session.execute(sa.text("SELECT count(*) FROM summary_rollups")).scalar()
            assert cells == len(ROWS)  # each row its own (currency, month, category, merchant)
            # From now on a write refreshes its month's cells.
            add_transactions(
                session, "bob", [NewTransaction(dt.date(2025, 1, 2), -100, "USD", "Fee")]
            )
            session.commit()
            assert drift(session, "bob") == []
        for user in USERS:
            with engine.connect() as conn:
                stored = {
                    currency: figures if isinstance(figures, dict) else json.loads(figures)
                    for currency, figures in conn.execute(
                        sa.text(
                            "SELECT currency, figures FROM financial_summaries WHERE user_id = :u"
                        ),
                        {"u": user},
                    )
                }
            assert stored == _expected(user, today)
    finally:
        engine.dispose()


def test_sqlite_0003_users_get_their_cells_from_the_first_drain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _populate_0003(url)
    _check(url)


@pytest.mark.postgres
def test_postgres_0003_users_get_their_cells_from_the_first_drain(empty_postgres: str) -> None:
    _populate_0003(empty_postgres)
    _check(empty_postgres)


def test_downgrade_to_0003_keeps_the_rows(tmp_path: Path) -> None:
    from alembic import command

    from core.base.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'down.db'}"
    _populate_0003(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "0003")
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM transactions")).scalar() == len(ROWS)
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == len(USERS)
        assert "summary_rollups" not in sa.inspect(conn).get_table_names()
    engine.dispose()
