"""Connection reuse: a bounded per-process pool, pre-pinged, that outlives a dropped server
connection; no pool on plain Lambda or when configured off. Real Postgres."""

from __future__ import annotations

import time

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import NullPool, QueuePool

from core.base.db import make_engine
from core.base.settings import Settings
from tests.conftest import PG_HOST, PG_USER


def connections_made(engine: sa.Engine) -> list[int]:
    made: list[int] = []
    event.listen(engine, "connect", lambda *_: made.append(1))
    return made


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 5),
        ({"AWS_LAMBDA_FUNCTION_NAME": "tally"}, 0),
        ({"AWS_LAMBDA_FUNCTION_NAME": "tally", "VERCEL": "1"}, 5),
        ({"DATABASE_POOL_SIZE": "0"}, 0),
        ({"DATABASE_POOL_SIZE": "3", "AWS_LAMBDA_FUNCTION_NAME": "tally"}, 3),
    ],
)
def test_pool_size_follows_the_platform(
    env: pytest.MonkeyPatch, environ: dict[str, str], expected: int
) -> None:
    for name, value in environ.items():
        env.setenv(name, value)
    assert Settings().pool_size == expected


def test_requests_reuse_one_connection(postgres_url: str, env: pytest.MonkeyPatch) -> None:
    engine = make_engine(postgres_url, Settings())
    assert isinstance(engine.pool, QueuePool)
    made = connections_made(engine)
    pids = {backend_pid(engine) for _ in range(5)}
    engine.dispose()
    assert len(pids) == 1
    assert len(made) == 1


def test_no_pool_opens_a_connection_per_use(postgres_url: str, env: pytest.MonkeyPatch) -> None:
    engine = make_engine(postgres_url, Settings(database_pool_size=0))
    assert isinstance(engine.pool, NullPool)
    made = connections_made(engine)
    for _ in range(3):
        backend_pid(engine)
    assert len(made) == 3


def test_a_connection_the_server_dropped_is_replaced(
    postgres_url: str, env: pytest.MonkeyPatch
) -> None:
    """What a Postgres restart or a pooler's idle cut does to a pooled connection."""
    engine = make_engine(postgres_url, Settings())
    first = backend_pid(engine)
    with psycopg.connect(host=PG_HOST, user=PG_USER, dbname="postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    second = backend_pid(engine)  # pre-ping finds the dead one; no error reaches the caller
    engine.dispose()
    assert second != first


def test_an_idle_connection_is_retired(postgres_url: str, env: pytest.MonkeyPatch) -> None:
    engine = make_engine(postgres_url, Settings(database_pool_idle_seconds=0.05))
    first = backend_pid(engine)
    assert backend_pid(engine) == first  # used again at once: kept
    time.sleep(0.1)
    later = backend_pid(engine)
    engine.dispose()
    assert later != first
