"""Fixtures of the migration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def empty_postgres(pg_template: str) -> Iterator[str]:
    from tests.conftest import _admin, pg_url

    name = f"tally_m_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
