"""Bulk inserts in one SQL command: COPY on Postgres, executemany elsewhere.

COPY streams rows in the database's own format: for a batch of summaries with JSON documents
it is several times faster than a multi-row INSERT, whose parameters SQLAlchemy must render and
psycopg must bind one by one. Either way a batch costs one command, whatever its size.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlmodel import Session, SQLModel


def _copy_value(value: Any) -> Any:
    # COPY sends text: JSON documents go as their serialised form, the rest psycopg adapts.
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def insert_rows(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `model`'s table, in the session's
    transaction."""
    if not rows:
        return
    table: Table = sa.inspect(model).local_table
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(table), list(rows))
        return
    columns = list(rows[0])
    quoted = ", ".join(f'"{name}"' for name in columns)
    # The session's own connection: the COPY joins its transaction and commits or rolls back
    # with everything else the job wrote.
    driver = session.connection().connection.driver_connection
    assert driver is not None
    command = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    with driver.cursor() as cursor, cursor.copy(command) as copy:
        for row in rows:
            copy.write_row([_copy_value(row[name]) for name in columns])
