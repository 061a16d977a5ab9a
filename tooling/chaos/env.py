"""Where a scenario runs: its database, its queue prefix, the local Upstash in front of Redis.

Both entry points build a `ChaosEnv`: the pytest suite from its fixtures (a database and a prefix
per test), `scripts/chaos.py` from a scratch database it creates and drops. Settings are read
from the environment, so a scenario that needs other tunables sets them with `scoped_environ`,
which also clears the caches that hold settings, engines and the Upstash client.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy.engine import make_url

from core.base import db as core_db
from core.base.migrate import upgrade
from core.base.settings import environment_names, get_settings
from core.queue import QueueKeys
from core.queue import client as core_upstash
from tooling.upstash_local import LocalUpstash

ROOT = Path(__file__).resolve().parents[2]
DRAIN_SCRIPT = ROOT / "scripts" / "drain.py"
SUMMARY_KIND = "financial-summary"


def clear_caches() -> None:
    """Forget cached settings, engines and Upstash clients (they were built from old values)."""
    get_settings.cache_clear()
    core_db.reset_engines()
    core_upstash._cached.cache_clear()


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly `values` for Settings while the block runs; the previous environment after."""
    names = environment_names() | set(values)
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(values)
    clear_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        clear_caches()


@dataclass(frozen=True)
class Secrets:
    cron: str
    jwt: str


@dataclass
class ChaosEnv:
    """One scenario's database and queue, and the servers behind them."""

    database_url: str
    upstash: LocalUpstash
    redis_url: str
    prefix: str
    secrets: Secrets
    # Extra settings every process of the scenario gets (LEASE_SECONDS, ...).
    tuning: dict[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> QueueKeys:
        return QueueKeys(self.prefix, SUMMARY_KIND)

    def settings_env(self, **overrides: str) -> dict[str, str]:
        values = {
            "DATABASE_URL": self.database_url,
            "UPSTASH_REDIS_REST_URL": self.upstash.url,
            "UPSTASH_REDIS_REST_TOKEN": self.upstash.token,
            "QUEUE_PREFIX": self.prefix,
            "CRON_SECRET": self.secrets.cron,
            "AUTH_JWT_SECRET": self.secrets.jwt,
            "UPSTASH_RETRY_INTERVAL_SECONDS": "0.01",
            "LOG_LEVEL": "WARNING",
            # The scenarios' statements name no currency (unset, they would be refused).
            "DEFAULT_CURRENCY": "USD",
        }
        values.update(self.tuning)
        values.update(overrides)
        return values

    def process_env(self, **overrides: str) -> dict[str, str]:
        """The environment of a drain subprocess: the parent's, minus its Tally settings."""
        return child_environ(self.settings_env(**overrides))

    def raw_redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)

    def flush_queue(self) -> int:
        """Delete every key of this scenario's prefix: all queue state lost, other tests' kept."""
        client = self.raw_redis()
        try:
            keys = list(client.scan_iter(match=f"{self.prefix}:*"))
            return int(client.delete(*keys)) if keys else 0
        finally:
            client.close()

    def with_database(self, url: str) -> ChaosEnv:
        return ChaosEnv(url, self.upstash, self.redis_url, self.prefix, self.secrets, self.tuning)


def new_prefix() -> str:
    return f"chaos{uuid.uuid4().hex[:10]}"


def _admin_connect(url: str) -> psycopg.Connection[Any]:
    parsed = make_url(core_db.normalise_url(url))
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def database_url_for(server_url: str, name: str) -> str:
    parsed = make_url(core_db.normalise_url(server_url))
    return parsed.set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A migrated database of its own on the server of `server_url`, dropped afterwards.

    With `template` (an already migrated database) the copy takes milliseconds.
    """
    name = f"tally_chaos_{uuid.uuid4().hex[:12]}"
    with _admin_connect(server_url) as conn:
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    url = database_url_for(server_url, name)
    try:
        if template is None:
            upgrade(url)
        yield url
    finally:
        core_db.reset_engines()
        with _admin_connect(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child_environ(values: Mapping[str, str]) -> dict[str, str]:
    """A subprocess environment: the parent's, minus its Tally settings, plus `values`."""
    names = environment_names()
    return {**{k: v for k, v in os.environ.items() if k not in names}, **values}
