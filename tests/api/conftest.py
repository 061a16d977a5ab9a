"""Fixtures for the write-path tests: an HTTP client, tokens, and probes on the database and queue.

Every probe reads this test's own database and key prefix (the `world` and `upstash` fixtures),
so the tests run in any order and leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api._http.app import create_app
from core.base.auth import mint_token
from core.base.db import get_engine
from core.base.settings import get_settings
from core.queue.keys import Part, key
from core.writes.ledger import SUMMARY_KIND
from tests.conftest import UpstashHandle
from tests.support import World

ALICE = "user-alice"
BOB = "user-bob"


def bearer(user_id: str) -> dict[str, str]:
    """Headers of a valid token for `user_id`, minted as the app itself would."""
    return {"Authorization": f"Bearer {mint_token(user_id, get_settings())}"}


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    # Server errors become 500 responses, as a client would see them, not test exceptions.
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass(frozen=True)
class DbState:
    """Everything a rejected or foreign request must leave exactly as it was."""

    transactions: tuple[tuple[Any, ...], ...]
    statements: tuple[tuple[Any, ...], ...]
    users: tuple[tuple[Any, ...], ...]


def db_state(world: World) -> DbState:
    return DbState(
        transactions=tuple(
            tuple(row)
            for row in world.rows(
                "SELECT id, user_id, statement_id, date, amount_minor, currency, description,"
                " category, import_key, updated_at FROM transactions ORDER BY id"
            )
        ),
        statements=tuple(tuple(row) for row in world.rows("SELECT * FROM statements ORDER BY id")),
        users=tuple(
            tuple(row)
            for row in world.rows(
                "SELECT id, data_version, summary_version, summary_dirty_since"
                " FROM users ORDER BY id"
            )
        ),
    )


def data_version(world: World, user_id: str) -> int | None:
    value = world.scalar("SELECT data_version FROM users WHERE id = :id", id=user_id)
    return None if value is None else int(value)


def dirty_since(world: World, user_id: str) -> Any:
    return world.scalar("SELECT summary_dirty_since FROM users WHERE id = :id", id=user_id)


def pending_ids(upstash: UpstashHandle) -> list[str]:
    pending = key(upstash.prefix, SUMMARY_KIND, Part.PENDING)
    items = upstash.raw.lrange(pending, 0, -1)
    return [item.decode() if isinstance(item, bytes) else str(item) for item in items]


def clear_queue(upstash: UpstashHandle) -> None:
    keys = list(upstash.raw.scan_iter(match=f"{upstash.prefix}:*"))
    if keys:
        upstash.raw.delete(*keys)


def warm_queue(world: World, upstash: UpstashHandle) -> None:
    """Load the enqueue script into Redis, so the next enqueue is one EVALSHA and no EVAL.

    Without it the first enqueue of a Redis server's life costs two requests (NOSCRIPT, EVAL),
    which is the SDK's fallback, not the write path's cost.
    """
    world.queue.enqueue("warm-up")
    clear_queue(upstash)


def upstash_requests(upstash: UpstashHandle) -> int:
    return int(upstash.stats()["requests"])


@dataclass
class SqlLog:
    """What the app sent to the database: queries, transaction begins and commits.

    `events` orders the commits against anything else a test records there (an enqueue).
    """

    queries: list[str] = field(default_factory=list)
    begins: int = 0
    commits: int = 0
    events: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.queries.clear()
        self.events.clear()
        self.begins = self.commits = 0

    def inserts_into(self, table: str) -> list[str]:
        prefix = f"INSERT INTO {table} "
        return [s for s in self.queries if " ".join(s.split()).startswith(prefix)]


@pytest.fixture
def sql_log(world: World) -> Iterator[SqlLog]:
    log = SqlLog()
    engine = get_engine()
    assert engine is world.engine  # the app and the probes share one engine

    def on_execute(
        conn: Any, cursor: Any, query: str, params: Any, context: Any, many: bool
    ) -> None:
        log.queries.append(query)

    def on_begin(conn: Any) -> None:
        log.begins += 1

    def on_commit(conn: Any) -> None:
        log.commits += 1
        log.events.append("commit")

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "begin", on_begin)
    sa.event.listen(engine, "commit", on_commit)
    yield log
    sa.event.remove(engine, "before_cursor_execute", on_execute)
    sa.event.remove(engine, "begin", on_begin)
    sa.event.remove(engine, "commit", on_commit)
