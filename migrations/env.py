"""Alembic environment: the URL comes from `core.base.settings` unless the caller passes a connection."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, event
from sqlmodel import SQLModel

import core.base.models  # noqa: F401  (registers every table on SQLModel.metadata)
from core.base.db import make_engine
from core.base.settings import get_settings

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _transactional_ddl(engine: Engine) -> None:
    """Make a SQLite upgrade all or nothing.

    Python's sqlite3 commits before each CREATE TABLE on its own, so an upgrade interrupted
    half way (Ctrl-C during `make dev`'s first start) left tables without a stamped revision, and
    every later start failed with "table ... already exists". Taking transaction control from
    the driver lets Alembic's one transaction cover the DDL too.
    """

    @event.listens_for(engine, "connect")
    def _driver_hands_off(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.attributes.get("url") or get_settings().database_url
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        _transactional_ddl(engine)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
