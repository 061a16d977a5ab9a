"""Database engine factory and sessions, tuned for serverless functions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool
from sqlmodel import Session

from core.base.settings import Settings, get_settings


def normalise_url(url: str) -> str:
    """Accept the URLs hosting providers hand out (`postgres://`, `postgresql://`)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def unreachable(error: BaseException) -> bool:
    """Whether `error` says the database could not be reached or used just now (refused, cut,
    restarting, failover, lock or query timeout, no pooled connection in time): an outage
    to wait out, not a fault of the request or of any user's data."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        exc.OperationalError | exc.InterfaceError | exc.DisconnectionError | exc.TimeoutError,
    )


def ping(engine: Engine | None = None) -> None:
    """One `SELECT 1`: raises what the driver raises when the database does not answer."""
    with (engine or get_engine()).connect() as conn:
        conn.execute(text("SELECT 1"))


def is_sqlite(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {
        # A transaction-mode pooler (PgBouncer, Supavisor, Neon) cannot keep a query prepared
        # on the server between transactions, so never prepare one.
        "prepare_threshold": None,
        "connect_timeout": settings.database_connect_timeout_seconds,
    }
    if settings.pool_size == 0:
        # The process may freeze between invocations (plain Lambda): a pooled connection would
        # outlive its server-side session. Open per use instead.
        return create_engine(url, poolclass=NullPool, connect_args=connect_args)
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=settings.pool_size,
        max_overflow=settings.database_pool_max_overflow,
        # Checked at checkout, so a connection the server closed (a restart, a pooler's idle
        # cut) is replaced before a request uses it.
        pool_pre_ping=True,
        pool_timeout=settings.database_connect_timeout_seconds,
        connect_args=connect_args,
    )
    _retire_idle(engine, settings.database_pool_idle_seconds)
    return engine


def _retire_idle(engine: Engine, idle_seconds: float) -> None:
    """Replace a pooled connection that sat unused longer than `idle_seconds` at its next use."""

    def on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since > idle_seconds:
            # The pool discards this connection and checks out a new one.
            raise exc.DisconnectionError("idle too long")

    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "checkout", on_checkout)


# Every engine `_engine_for` made, so `reset_engines` can close their pools: the cache forgets
# an engine without closing its connections.
_engines: list[Engine] = []


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    _engines.append(engine)
    return engine


def get_engine() -> Engine:
    return _engine_for(get_settings().database_url)


def reset_engines() -> None:
    """Close every pooled connection and forget the engines (settings changed, or a test ends)."""
    for engine in _engines:
        engine.dispose()
    _engines.clear()
    _engine_for.cache_clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
