"""The benchmark's own world: a scratch Postgres database, a queue prefix, a local Upstash.

Everything is created on entry and removed on exit, whatever happened in between, so a run leaves
neither a database nor a key behind. The environment variables `core.base.settings` reads are set
before any settings, engine or client is built, and restored afterwards.
"""

from __future__ import annotations

import os
import secrets
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import cast

import psycopg
import redis
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from core.base import db as core_db
from core.base.migrate import upgrade
from core.base.settings import Settings, get_settings
from core.queue import client as core_upstash
from tooling.bench.data import CSV_MAX_LINE_BYTES, conninfo
from tooling.bench.measure import UpstashMeter
from tooling.upstash_local import LocalUpstash

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Numbered as DESIGN.md's figures; 9 is the built Vercel function.
ALL_SECTIONS = frozenset(range(1, 12))
# The settings' own upload limits, kept unless the generated statement needs more.
DEFAULT_UPLOAD_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_UPLOAD_MAX_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class BenchConfig:
    users: int = 2000
    txns_per_user: int = 50
    repeat: int = 5
    csv_rows: int = 50_000
    naive_users: int = 200
    cold_runs: int = 7
    cold_runtime_site: bool = True
    built_runs: int = 5
    built_bytecode: bool = False
    # Section 7: users writing once each, and bursts of writes by one user within a second.
    fresh_users: int = 200
    bursts: int = 20
    burst_writes: int = 50
    seed: int = 1
    # Section 10: transactions per user at each step, and users (None: one default batch).
    memory_rows: tuple[int, ...] = (50, 500, 5000, 10000)
    memory_users: int | None = None
    # Section 8: transactions per user at each step.
    history_rows: tuple[int, ...] = (50, 500, 5000, 10000)
    sections: frozenset[int] = ALL_SECTIONS
    pg_url: str = DEFAULT_PG_URL
    redis_url: str = DEFAULT_REDIS_URL


@dataclass(slots=True)
class BenchEnvironment:
    config: BenchConfig
    database: str = field(default_factory=lambda: f"tally_bench_{secrets.token_hex(5)}")
    queue_prefix: str = field(default_factory=lambda: f"bench{secrets.token_hex(5)}")
    cron_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    _stack: ExitStack = field(default_factory=ExitStack)
    _server: LocalUpstash | None = None
    _raw: redis.Redis | None = None

    @property
    def database_url(self) -> str:
        url = make_url(self.config.pg_url).set(database=self.database)
        return url.render_as_string(hide_password=False)

    @property
    def server(self) -> LocalUpstash:
        assert self._server is not None, "the environment is not entered"
        return self._server

    @property
    def raw(self) -> redis.Redis:
        assert self._raw is not None, "the environment is not entered"
        return self._raw

    @property
    def meter(self) -> UpstashMeter:
        return UpstashMeter(self.server, self.raw)

    @property
    def settings(self) -> Settings:
        return get_settings()

    @property
    def engine(self) -> Engine:
        return core_db.get_engine()

    def __enter__(self) -> BenchEnvironment:
        try:
            self._open_redis()
            self._set_environment()
            self._create_database()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _open_redis(self) -> None:
        raw = redis.Redis.from_url(self.config.redis_url, socket_connect_timeout=3)
        raw.ping()  # fail early, and open the inspection connection before any reading
        self._raw = raw
        self._stack.callback(raw.close)
        self._stack.callback(self._delete_keys)
        server = LocalUpstash(redis_url=self.config.redis_url, token=secrets.token_hex(16))
        self._server = server.start()
        self._stack.callback(server.stop)

    def _delete_keys(self) -> None:
        keys = list(self.raw.scan_iter(match=f"{self.queue_prefix}:*", count=1000))
        if keys:
            self.raw.delete(*keys)

    def _set_environment(self) -> None:
        rows = max(DEFAULT_UPLOAD_MAX_ROWS, self.config.csv_rows)
        values = {
            "ENVIRONMENT": "development",
            "DATABASE_URL": self.database_url,
            "UPSTASH_REDIS_REST_URL": self.server.url,
            "UPSTASH_REDIS_REST_TOKEN": self.server.token,
            "QUEUE_PREFIX": self.queue_prefix,
            "CRON_SECRET": self.cron_secret,
            "AUTH_JWT_SECRET": secrets.token_hex(32),
            # Tally logs a line per queue transition at INFO; written to a terminal, that would
            # time the terminal (and penalise the naive drain's many more lines).
            "LOG_LEVEL": "WARNING",
            # The generated statement names no currency (unset, it would be refused).
            "DEFAULT_CURRENCY": "USD",
            "UPLOAD_MAX_ROWS": str(rows),
            "UPLOAD_MAX_BYTES": str(max(DEFAULT_UPLOAD_MAX_BYTES, rows * CSV_MAX_LINE_BYTES)),
        }
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        self._stack.callback(_clear_caches)
        self._stack.callback(_restore, saved)
        _clear_caches()

    def _create_database(self) -> None:
        with psycopg.connect(conninfo(self.config.pg_url), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        self._stack.callback(self._drop_database)
        upgrade(self.database_url)

    def _drop_database(self) -> None:
        core_db.reset_engines()
        with psycopg.connect(conninfo(self.config.pg_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def versions(self) -> tuple[str, str]:
        """Server versions of Postgres and Redis, for the report."""
        with psycopg.connect(conninfo(self.database_url)) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        info = cast("dict[str, object]", self.raw.info("server"))
        return (str(row[0]) if row else "?"), str(info.get("redis_version", "?"))


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _clear_caches() -> None:
    get_settings.cache_clear()
    core_db.reset_engines()
    core_upstash._cached.cache_clear()
