"""Shared fixtures: real Postgres and real Redis (behind upstash_local), isolated per test.

Postgres: one migrated template database per test session, and a fresh copy of it per test
(`CREATE DATABASE ... TEMPLATE`), dropped afterwards. Redis: one upstash_local server per session
in front of the real Redis, and a unique QUEUE_PREFIX per test whose keys are deleted afterwards.
Under CI=true an unreachable service fails the test; elsewhere the test is skipped with a reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import redis

from core.base import db as core_db
from core.base.migrate import upgrade
from core.base.settings import environment_names, get_settings
from core.queue import client as core_upstash

if TYPE_CHECKING:
    from tests.support import World
    from tooling.upstash_local import LocalUpstash

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_HOST = os.environ.get("TALLY_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("TALLY_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("TALLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
UPSTASH_TOKEN = "test-upstash-token-0123456789"
CRON_SECRET = "test-cron-secret-0123456789abcdef"
JWT_SECRET = "test-jwt-secret-0123456789abcdef"


SETTINGS_ENV_NAMES = environment_names()


def unavailable(what: str, why: object) -> None:
    message = f"{what} is not reachable ({why}); start it or run on a machine that has it"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pg_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:5432/{database}"


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=PG_HOST, user=PG_USER, dbname="postgres", autocommit=True, connect_timeout=3
    )


def clear_caches() -> None:
    get_settings.cache_clear()
    core_db.reset_engines()
    core_upstash._cached.cache_clear()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"tally_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", exc)
    upgrade(pg_url(name))
    yield name
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(pg_template: str) -> Iterator[str]:
    """A freshly migrated, empty Postgres database for this test only."""
    name = f"tally_t_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield pg_url(name)
    core_db.reset_engines()
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A freshly migrated SQLite file for this test only."""
    path = tmp_path / "tally.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def redis_server() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture(scope="session")
def _local_upstash(redis_server: str) -> Iterator[LocalUpstash]:
    from tooling.upstash_local import LocalUpstash

    server = LocalUpstash(redis_url=redis_server, token=UPSTASH_TOKEN).start()
    yield server
    server.stop()


@dataclass
class UpstashHandle:
    """The shared upstash_local server, as seen by one test (its own key prefix)."""

    server: LocalUpstash
    prefix: str
    raw: redis.Redis

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    def stats(self) -> dict[str, Any]:
        return dict(self.server.stats())

    def keys(self) -> list[str]:
        return sorted(k.decode() for k in self.raw.scan_iter(match=f"{self.prefix}:*"))


@pytest.fixture
def upstash(_local_upstash: LocalUpstash, redis_server: str) -> Iterator[UpstashHandle]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    _local_upstash.reset_stats()
    _local_upstash.clear_faults()
    raw = redis.Redis.from_url(redis_server)
    yield UpstashHandle(server=_local_upstash, prefix=prefix, raw=raw)
    _local_upstash.clear_faults()
    keys = list(raw.scan_iter(match=f"{prefix}:*"))
    if keys:
        raw.delete(*keys)
    raw.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment for Settings: nothing inherited, caches cleared before and after."""
    for name in SETTINGS_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    # Settings also reads `.env` from the working directory and `make dev`'s state file from
    # the state folder; tests must see neither of a developer's.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TALLY_STATE_DIR", str(tmp_path / ".tally"))
    clear_caches()
    yield monkeypatch
    clear_caches()


@pytest.fixture
def app_env(env: pytest.MonkeyPatch, postgres_url: str, upstash: UpstashHandle) -> dict[str, str]:
    """Settings pointing at this test's Postgres database and queue prefix."""
    values = {
        "DATABASE_URL": postgres_url,
        "UPSTASH_REDIS_REST_URL": upstash.url,
        "UPSTASH_REDIS_REST_TOKEN": upstash.token,
        "QUEUE_PREFIX": upstash.prefix,
        "CRON_SECRET": CRON_SECRET,
        "AUTH_JWT_SECRET": JWT_SECRET,
        "UPSTASH_RETRY_INTERVAL_SECONDS": "0.01",
        # The write-path tests look at what a write leaves in the queue; tests of the
        # after-response kick (tests/api/test_kick.py) turn it on.
        "KICK_AFTER_WRITE": "false",
        # Statements that name no currency are refused unless it is set (tests of the refusal
        # unset it): most upload tests send such files.
        "DEFAULT_CURRENCY": "USD",
    }
    for name, value in values.items():
        env.setenv(name, value)
    clear_caches()
    return values


@pytest.fixture
def world(app_env: dict[str, str]) -> World:
    """This test's database and queue, with helpers to seed and inspect them."""
    from tests.support import make_world

    return make_world()
