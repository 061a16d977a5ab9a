"""Alembic is the only way the schema is made: a migrated empty database matches the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import core.base.models  # noqa: F401  (registers the tables)
from core.base.db import make_engine
from core.base.migrate import upgrade

TABLES = {
    "users",
    "accounts",
    "transactions",
    "statements",
    "financial_summaries",
    "summary_rollups",
    "background_jobs",
    "drain_runs",
    "notifications",
    "idempotency_keys",
}


def _diff(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_upgrade_empty_postgres_matches_models(pg_template: str) -> None:
    # pg_template is itself an empty database that went through `upgrade()`.
    from tests.conftest import pg_url

    url = pg_url(pg_template)
    assert _tables(url) == TABLES
    assert _diff(url) == []


def test_upgrade_empty_sqlite_matches_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    assert _tables(url) == TABLES
    assert _diff(url) == []


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    upgrade(url)
    upgrade(url)
    assert _diff(url) == []
