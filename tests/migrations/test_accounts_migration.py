"""0002 (accounts) on a populated 0001 database: every row lands in its user's default account,
nothing is lost, and the per-account duplicate key holds afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from core.base.db import make_engine
from core.base.migrate import upgrade

USERS = ("alice", "bob", "carol")  # carol has no transactions
ROWS = [
    ("alice", "2025-01-31", -500, "USD", "Monthly account fee", "k1"),
    ("alice", "2025-02-01", 1000, "EUR", "Refund", None),
    ("bob", "2025-01-31", -500, "USD", "Monthly account fee", "k1"),
]


def _populate_0001(url: str) -> None:
    upgrade(url, "0001")
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
        for user, day, amount, currency, description, key in ROWS:
            conn.execute(
                sa.text(
                    "INSERT INTO transactions (user_id, date, amount_minor, currency,"
                    " description, import_key, created_at, updated_at)"
                    " VALUES (:u, :d, :a, :c, :t, :k, :now, :now)"
                ),
                {"u": user, "d": day, "a": amount, "c": currency, "t": description, "k": key,
                 "now": now},
            )  # fmt: skip
    engine.dispose()


def _check_upgraded(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            accounts = conn.execute(
                sa.text("SELECT user_id, name FROM accounts ORDER BY user_id")
            ).all()
            assert [tuple(a) for a in accounts] == [(u, "default") for u in USERS]
            moved = conn.execute(
                sa.text(
                    "SELECT t.user_id, t.amount_minor, t.import_key, a.name, a.user_id"
                    " FROM transactions t JOIN accounts a ON a.id = t.account_id ORDER BY t.id"
                )
            ).all()
            assert [tuple(m) for m in moved] == [
                (user, amount, key, "default", user) for user, _, amount, _, _, key in ROWS
            ]
            assert (
                conn.execute(
                    sa.text("SELECT count(*) FROM transactions WHERE account_id IS NULL")
                ).scalar()
                == 0
            )
            # The same key in another account of the same user is allowed now.
            conn.execute(
                sa.text(
                    "INSERT INTO accounts (user_id, name, created_at)"
                    " VALUES ('alice', 'Savings', '2025-03-01 00:00:00')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO transactions (user_id, account_id, date, amount_minor,"
                    " currency, description, import_key, created_at, updated_at)"
                    " SELECT 'alice', id, '2025-01-31', -500, 'USD', 'fee', 'k1',"
                    " created_at, created_at FROM accounts WHERE name = 'Savings'"
                )
            )
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # but not twice
            conn.execute(
                sa.text(
                    "INSERT INTO transactions (user_id, account_id, date, amount_minor,"
                    " currency, description, import_key, created_at, updated_at)"
                    " SELECT 'alice', id, '2025-01-31', -500, 'USD', 'fee', 'k1',"
                    " created_at, created_at FROM accounts WHERE name = 'Savings'"
                )
            )
    finally:
        engine.dispose()


def test_sqlite_0001_rows_move_to_the_default_account(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _populate_0001(url)
    _check_upgraded(url)


@pytest.mark.postgres
def test_postgres_0001_rows_move_to_the_default_account(empty_postgres: str) -> None:
    _populate_0001(empty_postgres)
    _check_upgraded(empty_postgres)


def test_downgrade_to_0001_keeps_the_rows(tmp_path: Path) -> None:
    from alembic import command

    from core.base.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'down.db'}"
    _populate_0001(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM transactions")).scalar() == len(ROWS)
        assert "accounts" not in sa.inspect(conn).get_table_names()
    engine.dispose()
