"""Bulk data for scenarios where the writes themselves are not under test.

One set-based INSERT per table instead of API calls: thousands of "slow" users (many
transactions each) in a second. The rows are pseudo-random but a pure function of the user id
and the seed, so a run can be repeated. The users are left exactly as the write path leaves
them: data version bumped, summary marked dirty.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from core.base.settings import get_settings
from core.queue import JobQueue
from core.queue.client import get_redis
from tooling.chaos.writers import MERCHANTS

_USERS = sa.text(
    "INSERT INTO users (id, created_at, data_version, summary_version, summary_dirty_since)"
    " SELECT u, now(), 1, 0, now() FROM unnest(CAST(:ids AS text[])) AS u"
)
_ACCOUNTS = sa.text(
    "INSERT INTO accounts (user_id, name, created_at)"
    " SELECT u, 'default', now() FROM unnest(CAST(:ids AS text[])) AS u"
)
# hashtext() gives a stable pseudo-random integer per (user, row, salt).
_TRANSACTIONS = sa.text(
    "INSERT INTO transactions (user_id, account_id, date, amount_minor, currency, description,"
    " category, created_at, updated_at)"
    " SELECT u, (SELECT a.id FROM accounts AS a WHERE a.user_id = u AND a.name = 'default'),"
    "  DATE '2024-01-01' + abs(hashtext(u || ':d:' || g || :seed)) % 540,"
    "  abs(hashtext(u || ':a:' || g || :seed)) % 80000 - 50000,"
    "  (ARRAY['USD', 'EUR', 'JPY'])[1 + abs(hashtext(u || ':c:' || g || :seed)) % 3],"
    "  (CAST(:merchants AS text[]))[1 + abs(hashtext(u || ':m:' || g || :seed)) % :n_merchants],"
    "  NULL, now(), now()"
    " FROM unnest(CAST(:ids AS text[])) AS u, generate_series(1, :per_user) AS g"
)


def user_ids(count: int, tag: str = "u") -> list[str]:
    return [f"{tag}-{i:05d}" for i in range(count)]


def seed_users(engine: Engine, ids: list[str], per_user: int, seed: int = 1) -> None:
    with engine.begin() as conn:
        conn.execute(_USERS, {"ids": ids})
        conn.execute(_ACCOUNTS, {"ids": ids})
        conn.execute(
            _TRANSACTIONS,
            {
                "ids": ids,
                "per_user": per_user,
                "seed": str(seed),
                "merchants": list(MERCHANTS),
                "n_merchants": len(MERCHANTS),
            },
        )


def summary_queue() -> JobQueue:
    """The queue as the current settings (see `scoped_environ`) describe it."""
    return JobQueue(get_redis(), "financial-summary", get_settings())


def enqueue_all(ids: list[str], chunk: int = 1000) -> None:
    queue = summary_queue()
    for start in range(0, len(ids), chunk):
        queue.enqueue(*ids[start : start + chunk])
