"""Statement upload, streamed: rows COPYed as they are parsed, one INSERT, all or nothing.

On Postgres the rows go through a temporary table in the request's own transaction, so a bad
line found at the very end still leaves nothing behind, and the number of SQL queries does
not depend on the number of rows. SQLite inserts in chunks, with the same outcome.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from core.base.db import make_engine
from core.base.settings import Settings, get_settings
from core.writes.statements import InvalidStatement
from core.writes.statements import detect as detect_module
from core.writes.uploads import import_statement
from tests.api.conftest import ALICE, SqlLog, bearer, data_version, db_state
from tests.conftest import UpstashHandle
from tests.support import QueryCounter, World

UPLOAD = "/api/transactions/upload"
BAD_AMOUNT = "abc"


def statement(rows: int, *, bad_last: bool = False) -> bytes:
    """A header and `rows` distinct transactions; with `bad_last`, the last amount is bad."""
    lines = ["Date,Description,Category,Amount"]
    for n in range(rows):
        amount = BAD_AMOUNT if bad_last and n == rows - 1 else f"-{n % 500 + 1}.{n % 100:02d}"
        category = ("Groceries", "Dining", "")[n % 3]
        lines.append(f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d},SHOP {n:06d},{category},{amount}")
    return ("\n".join(lines) + "\n").encode()


def upload(client: TestClient, data: bytes, user: str = ALICE) -> Response:
    response: Response = client.post(
        UPLOAD, headers=bearer(user), files={"file": ("statement.csv", data, "text/csv")}
    )
    return response


@pytest.fixture
def copied_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per row written into a COPY, whatever became of it afterwards."""
    written: list[int] = []
    original = psycopg.Copy.write_row

    def counting(copy: psycopg.Copy, row: Any) -> None:
        written.append(1)
        original(copy, row)

    monkeypatch.setattr(psycopg.Copy, "write_row", counting)
    return written


# --- All or nothing ------------------------------------------------------------------------------


def test_a_bad_last_line_leaves_the_database_unchanged_after_rows_were_copied(
    client: TestClient, world: World, upstash: UpstashHandle, copied_rows: list[int]
) -> None:
    world.seed(users=1, per_user=3, enqueue=False)
    copied_rows.clear()  # the seed's own rollup cells
    before = db_state(world)
    rows = 2_000

    response = upload(client, statement(rows, bad_last=True), user="user-new")

    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"line": rows + 1, "column": "Amount", "reason": f"amount '{BAD_AMOUNT}' is not a number"}
    ]
    # Every good row had already gone to the database when the last line failed the file.
    assert len(copied_rows) == rows - 1
    assert db_state(world) == before  # no user, no statement, no transaction
    assert upstash.keys() == []
    # The failed transaction was rolled back, not left half-open: the next upload works.
    again = upload(client, statement(rows), user="user-new")
    assert again.status_code == 201, again.text
    assert again.json()["imported"] == rows


# --- A fixed number of queries -------------------------------------------------------------------


def test_a_20000_row_upload_costs_as_many_statements_as_a_10_row_one(
    client: TestClient,
    world: World,
    sql_log: SqlLog,
    copied_rows: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counter = QueryCounter(world.engine, monkeypatch)
    rows = 20_000
    big, small = statement(rows), statement(10)
    counts: dict[str, tuple[int, int, int]] = {}
    # New users first, then the same files again: each pair must cost the same.
    for name, user, data, imported in (
        ("small", "user-small", small, 10),
        ("big", ALICE, big, rows),
        ("small again", "user-small", small, 0),
        ("big again", ALICE, big, 0),
    ):
        counter.count = counter.copies = 0
        sql_log.clear()
        response = upload(client, data, user=user)
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["imported"], body["skipped"]) == (imported, body["rows"] - imported), name
        counts[name] = (counter.count, counter.copies, len(sql_log.inserts_into("transactions")))

    assert counts["big"] == counts["small"]
    assert counts["big again"] == counts["small again"]
    # One COPY into the staging table and one of the rollup cells, one INSERT ... SELECT.
    assert counts["big"][1:] == (2, 1)
    cells = world.scalar("SELECT count(*) FROM summary_rollups")
    assert len(copied_rows) == 2 * (rows + 10) + cells
    assert world.scalar("SELECT count(*) FROM transactions WHERE user_id = :u", u=ALICE) == rows
    assert world.rows(
        "SELECT row_count, imported_count, skipped_count FROM statements WHERE user_id = :u"
        " ORDER BY id",
        u=ALICE,
    ) == [(rows, rows, 0), (rows, 0, rows)]
    assert data_version(world, ALICE) == 1  # the re-upload changed nothing


def test_rows_keep_the_files_order_and_every_value(client: TestClient, world: World) -> None:
    data = b"Date,Description,Category,Amount\n" + b"".join(
        f"2024-03-{day:02d},Caf\u00e9 {day} \\ back\\slash,{cat},{amount}\n".encode()
        for day, cat, amount in ((9, "Dining", "-4.50"), (2, "", '"1,200.00"'), (5, "Rent", "-7"))
    )

    response = upload(client, data)

    assert response.status_code == 201, response.text
    stored = world.rows(
        "SELECT date, amount_minor, currency, description, category, statement_id, created_at"
        " FROM transactions ORDER BY id"
    )
    assert [(r.date.day, r.amount_minor, r.currency, r.category) for r in stored] == [
        (9, -450, "USD", "Dining"),
        (2, 120_000, "USD", None),
        (5, -700, "USD", "Rent"),
    ]
    assert stored[0].description == "Caf\u00e9 9 \\ back\\slash"
    assert {r.statement_id for r in stored} == {response.json()["statement_id"]}
    assert stored[0].created_at.tzinfo is not None


# --- SQLite (development): chunks ----------------------------------------------------------------


def test_sqlite_imports_in_chunks_and_all_or_nothing(
    env: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path
) -> None:
    env.setattr("core.writes.uploads.CHUNK_ROWS", 100)
    settings = Settings(database_url=sqlite_url, default_currency="USD")
    engine = make_engine(sqlite_url, settings)
    inserts: list[str] = []

    def on_execute(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.startswith("INSERT INTO transactions"):
            inserts.append(sql)

    sa.event.listen(engine, "before_cursor_execute", on_execute)

    def run(data: bytes) -> tuple[int, int]:
        with Session(engine) as session:
            result = import_statement(session, "dev", data, "s.csv", settings)
            session.commit()
            return result.imported, result.skipped

    assert run(statement(450)) == (450, 0)
    assert len(inserts) == 5  # 100 rows a chunk
    assert run(statement(450)) == (0, 450)
    with Session(engine) as session, pytest.raises(InvalidStatement):
        import_statement(session, "dev", statement(500, bad_last=True), "s.csv", settings)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM transactions")).scalar() == 450
        assert conn.execute(sa.text("SELECT count(*) FROM statements")).scalar() == 2
    engine.dispose()


# --- The upload's own file, read in chunks -------------------------------------------------------


def stored(world: World, user: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in world.rows(
            "SELECT date, amount_minor, currency, description, category, import_key"
            " FROM transactions WHERE user_id = :u ORDER BY id",
            u=user,
        )
    ]


def test_an_upload_stores_what_the_same_bytes_store(client: TestClient, world: World) -> None:
    data = statement(30_000)  # over 1 MB: the route reads Starlette's spooled file from disk
    assert len(data) > 1024 * 1024

    response = upload(client, data, user="by-file")
    with Session(world.engine) as session:
        by_bytes = import_statement(session, "by-bytes", data, "statement.csv", get_settings())
        session.commit()

    assert response.status_code == 201, response.text
    by_file = response.json()
    assert by_file["rows"] == by_file["imported"] == by_bytes.imported == 30_000
    assert stored(world, "by-file") == stored(world, "by-bytes")
    assert world.rows(
        "SELECT DISTINCT sha256, size_bytes FROM statements"
        " WHERE user_id IN ('by-file', 'by-bytes')"
    ) == [(hashlib.sha256(data).hexdigest(), len(data))]


def test_a_file_over_the_limit_is_refused_even_when_its_size_is_unknown(
    client: TestClient,
    world: World,
    upstash: UpstashHandle,
    env: pytest.MonkeyPatch,
    copied_rows: list[int],
) -> None:
    data = statement(100)
    env.setenv("UPLOAD_MAX_BYTES", str(len(data) - 1))
    get_settings.cache_clear()
    # Starlette counts the bytes it spools into `size`; without that count, the route has
    # nothing to check, and the import must refuse the file itself.
    original_init = UploadFile.__init__

    def size_unknown(self: UploadFile, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **{**kwargs, "size": None})

    env.setattr(UploadFile, "__init__", size_unknown)
    decoded: list[object] = []
    env.setattr(detect_module, "_survey", lambda *a: decoded.append(a))

    response = upload(client, data)

    assert response.status_code == 413, response.text
    assert f"{len(data):,} bytes" in response.json()["detail"]
    assert decoded == []  # refused before the parser read any of it
    assert copied_rows == []
    assert world.scalar("SELECT count(*) FROM statements") == 0
    assert upstash.keys() == []
