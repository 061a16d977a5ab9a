"""Statement upload over HTTP: the parser's corpus end to end, limits, and a 50,000-row import.

The corpus is the parser's own (tests/core/writes/statements/corpus): each good file must land
in the
`transactions` table exactly as its `.expected.json` says; each bad case of `bad_cases.json` must
answer its status with line-numbered errors and leave the database and the queue untouched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from core.base.settings import get_settings
from tests.api.conftest import (
    ALICE,
    SqlLog,
    bearer,
    clear_queue,
    data_version,
    db_state,
    pending_ids,
)
from tests.conftest import UpstashHandle
from tests.support import World

UPLOAD = "/api/transactions/upload"
CORPUS = Path(__file__).parents[1] / "core" / "writes" / "statements" / "corpus"
GOOD = sorted(p for p in (CORPUS / "good").iterdir() if not p.name.endswith(".expected.json"))
BAD_CASES: list[dict[str, Any]] = json.loads((CORPUS / "bad" / "bad_cases.json").read_text())


def configure(env: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        env.setenv(name, value)
    get_settings.cache_clear()


def upload(
    client: TestClient,
    data: bytes,
    filename: str = "statement.csv",
    user: str = ALICE,
    **form: str,
) -> Response:
    response: Response = client.post(
        UPLOAD,
        headers=bearer(user),
        files={"file": (filename, data, "application/octet-stream")},
        data=form,
    )
    return response


def stored_rows(world: World, user: str = ALICE) -> list[dict[str, Any]]:
    rows = world.rows(
        "SELECT date, amount_minor, currency, description, category FROM transactions"
        " WHERE user_id = :u ORDER BY id",
        u=user,
    )
    return [
        {
            "date": row.date.isoformat(),
            "amount_minor": row.amount_minor,
            "currency": row.currency,
            "description": row.description,
            "category": row.category,
        }
        for row in rows
    ]


def test_corpora_are_large_enough() -> None:
    assert len(GOOD) >= 15
    assert len(BAD_CASES) >= 20


# --- The good corpus -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOOD, ids=[path.name for path in GOOD])
def test_good_statement_imports_exactly_and_reimports_nothing(
    path: Path, client: TestClient, world: World, upstash: UpstashHandle, env: pytest.MonkeyPatch
) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text("utf-8"))
    options = dict(expected["options"])
    configure(env, DEFAULT_CURRENCY=options.pop("default_currency"))
    data = path.read_bytes()
    rows = [{k: v for k, v in row.items() if k != "line"} for row in expected["rows"]]

    response = upload(client, data, path.name, **options)

    assert response.status_code == 201, response.text
    body = response.json()
    count = len(rows)
    assert (body["filename"], body["rows"], body["imported"], body["skipped"]) == (
        path.name,
        count,
        count,
        0,
    )
    assert {k: body[k] for k in expected["statement"]} == expected["statement"]
    assert stored_rows(world) == rows
    statement = world.rows(
        "SELECT id, filename, format, row_count, imported_count, skipped_count, size_bytes, sha256"
        " FROM statements"
    )
    assert statement == [
        (
            body["statement_id"],
            path.name,
            expected["statement"]["format"],
            count,
            count,
            0,
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
    ]
    assert (
        world.scalar(
            "SELECT count(*) FROM transactions WHERE statement_id = :s", s=body["statement_id"]
        )
        == count
    )
    assert data_version(world, ALICE) == 1
    assert pending_ids(upstash) == [ALICE]

    # The same file again: every row is already there, so nothing changes and nothing is queued.
    clear_queue(upstash)
    transactions_before = db_state(world).transactions
    again = upload(client, data, path.name, **options)

    assert again.status_code == 201, again.text
    assert (again.json()["imported"], again.json()["skipped"]) == (0, count)
    assert db_state(world).transactions == transactions_before
    assert data_version(world, ALICE) == 1
    assert world.rows("SELECT imported_count, skipped_count FROM statements ORDER BY id") == [
        (count, 0),
        (0, count),
    ]
    assert upstash.keys() == []


def test_two_identical_purchases_on_one_day_are_both_kept(client: TestClient, world: World) -> None:
    two = b"Date,Description,Amount\n2024-11-08,COFFEE CART,-3.75\n2024-11-08,COFFEE CART,-3.75\n"
    three = two + b"2024-11-08,Coffee cart,-3.75\n"

    first = upload(client, two)
    again = upload(client, two)
    longer = upload(client, three)

    assert (first.json()["imported"], first.json()["skipped"]) == (2, 0)
    assert (again.json()["imported"], again.json()["skipped"]) == (0, 2)
    # The later export has a third coffee: only that one is new.
    assert (longer.json()["imported"], longer.json()["skipped"]) == (1, 2)
    assert [row["description"] for row in stored_rows(world)] == [
        "COFFEE CART",
        "COFFEE CART",
        "Coffee cart",
    ]
    assert data_version(world, ALICE) == 2


def test_an_overlapping_statement_imports_only_the_new_rows(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    march = b"Date,Description,Amount\n2024-03-01,Rent,-900.00\n2024-03-15,Salary,2500.00\n"
    overlap = b"Date,Description,Amount\n2024-03-15,Salary,2500.00\n2024-04-01,Rent,-900.00\n"

    upload(client, march)
    clear_queue(upstash)
    response = upload(client, overlap)

    assert (response.json()["imported"], response.json()["skipped"]) == (1, 1)
    assert [row["date"] for row in stored_rows(world)] == ["2024-03-01", "2024-03-15", "2024-04-01"]
    assert data_version(world, ALICE) == 2
    assert pending_ids(upstash) == [ALICE]


def test_the_same_statement_imports_for_each_user_separately(
    client: TestClient, world: World
) -> None:
    data = (CORPUS / "good" / "us_checking_mdy.csv").read_bytes()

    alice = upload(client, data, user=ALICE)
    bob = upload(client, data, user="user-bob")

    assert alice.json()["imported"] == bob.json()["imported"] == 4
    assert stored_rows(world, ALICE) == stored_rows(world, "user-bob")


FILENAMES = {
    "../../etc/passwd.csv": "passwd.csv",
    "C:\\Users\\me\\Downloads\\export.csv": "export.csv",
    "invoice\u202evsc.exe": "invoicevsc.exe",  # a right-to-left override is dropped
    "../": "statement",
    "s" * 300 + ".csv": "s" * 255,
}


def test_filename_is_reduced_to_a_printable_base_name(client: TestClient, world: World) -> None:
    boundary = "tally-boundary"
    for sent, kept in FILENAMES.items():
        body = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{sent}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
            "Date,Description,Amount\n2024-01-01,x,1.00\n"
            f"\r\n--{boundary}--\r\n"
        ).encode()

        response = client.post(
            UPLOAD,
            headers=bearer(ALICE) | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=body,
        )

        assert response.status_code == 201, (sent, response.text)
        assert response.json()["filename"] == kept, sent
    stored = world.rows("SELECT filename FROM statements ORDER BY id")
    assert [name for (name,) in stored] == list(FILENAMES.values())


# --- The bad corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_CASES, ids=[case["file"] for case in BAD_CASES])
def test_bad_statement_is_rejected_with_line_numbers_and_changes_nothing(
    case: dict[str, Any], client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    [user] = world.seed(users=1, per_user=3, enqueue=False)
    before = db_state(world)
    path = CORPUS / "bad" / case["file"]

    response = upload(client, path.read_bytes(), path.name, user=user, **case["options"])

    assert response.status_code == case["status"], response.text
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert case["message_contains"] in body["detail"]
    if case["line"] is None:
        assert body["errors"] == []
    else:
        first = body["errors"][0]
        assert set(first) == {"line", "column", "reason"}
        assert (first["line"], first["column"]) == (case["line"], case["column"])
        if "lines" in case:
            assert [error["line"] for error in body["errors"]] == case["lines"]
        place = "options" if case["line"] == 0 else f" {case['line']}"
        assert place in body["detail"]
    assert db_state(world) == before
    assert upstash.keys() == []


def test_rows_over_the_row_limit_are_413_naming_the_line(
    client: TestClient, world: World, env: pytest.MonkeyPatch
) -> None:
    configure(env, UPLOAD_MAX_ROWS="3")
    data = (CORPUS / "good" / "us_checking_mdy.csv").read_bytes()

    response = upload(client, data)

    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["line"] == 5
    assert world.scalar("SELECT count(*) FROM users") == 0


# --- Size limits and malformed requests ----------------------------------------------------------


@pytest.fixture
def small_limit(env: pytest.MonkeyPatch, world: World) -> int:
    configure(env, UPLOAD_MAX_BYTES="2048")
    return 2048


def csv_of(size: int) -> bytes:
    """A valid CSV of exactly `size` bytes (the description pads it)."""
    head = b"Date,Description,Amount\n2024-01-01,"
    tail = b",-1.00\n"
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_file_over_the_limit_is_413_before_parsing(
    client: TestClient, world: World, small_limit: int, env: pytest.MonkeyPatch
) -> None:
    parsed: list[object] = []
    env.setattr("core.writes.uploads.open_statement", lambda *a, **k: parsed.append(a))

    response = upload(client, csv_of(small_limit + 1))

    assert response.status_code == 413, response.text
    assert "2,048 bytes" in response.json()["detail"]
    assert parsed == []
    assert world.scalar("SELECT count(*) FROM statements") == 0
    assert world.scalar("SELECT count(*) FROM users") == 0


def test_file_of_exactly_the_limit_is_accepted(
    client: TestClient, world: World, small_limit: int
) -> None:
    response = upload(client, csv_of(small_limit))

    assert response.status_code == 201, response.text
    assert response.json()["imported"] == 1


def test_declared_content_length_over_the_limit_is_413(
    client: TestClient, world: World, small_limit: int
) -> None:
    headers = bearer(ALICE) | {
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(10 * 1024 * 1024),
    }

    response = client.post(UPLOAD, headers=headers, content=b"--x--\r\n")

    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
    assert world.scalar("SELECT count(*) FROM statements") == 0


def test_body_far_over_the_limit_is_413(client: TestClient, world: World, small_limit: int) -> None:
    response = upload(client, csv_of(200 * 1024))

    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
    assert world.scalar("SELECT count(*) FROM statements") == 0


def test_streamed_body_over_the_limit_is_413(
    client: TestClient, world: World, small_limit: int
) -> None:
    boundary = "tally-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv_of(200 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    response = client.post(
        UPLOAD,
        headers=bearer(ALICE) | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=chunks(),
    )

    assert response.status_code == 413, response.text
    assert "larger than the limit" in response.json()["detail"]
    assert world.scalar("SELECT count(*) FROM statements") == 0


def test_missing_file_field_is_422(client: TestClient, world: World) -> None:
    attempts: dict[str, dict[str, Any]] = {
        "form-without-file": {"data": {"currency": "USD"}},
        "file-under-another-name": {
            "files": {"statement": ("s.csv", b"Date,Description,Amount\n", "text/csv")}
        },
        "raw-body": {"content": b"Date,Description,Amount\n2024-01-01,x,1.00\n"},
        "json-body": {"json": {"file": "Date,Description,Amount"}},
    }
    for name, request_kwargs in attempts.items():
        response = client.post(UPLOAD, headers=bearer(ALICE), **request_kwargs)

        assert response.status_code == 422, (name, response.text)
        assert any(error["loc"][-1] == "file" for error in response.json()["detail"]), name
    assert world.scalar("SELECT count(*) FROM statements") == 0
    assert world.scalar("SELECT count(*) FROM users") == 0


def test_a_failed_version_bump_leaves_no_statement_and_no_rows(
    client: TestClient, world: World, upstash: UpstashHandle, env: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("the version bump failed")

    env.setattr("core.writes.uploads.mark_changed", broken)
    data = (CORPUS / "good" / "us_checking_mdy.csv").read_bytes()

    response = upload(client, data)

    assert response.status_code == 500
    assert world.scalar("SELECT count(*) FROM statements") == 0
    assert world.scalar("SELECT count(*) FROM transactions") == 0
    assert upstash.keys() == []


# --- A large statement ---------------------------------------------------------------------------

LARGE_ROWS = 50_000
MERCHANTS = (
    ("TESCO STORES", "Groceries"),
    ("SAINSBURYS S/MKT", "Groceries"),
    ("AMAZON MKTPLACE", "Shopping"),
    ("TFL TRAVEL CH", "Transport"),
    ("SHELL", "Fuel"),
    ("PRET A MANGER", "Dining"),
    ("NETFLIX.COM", "Subscriptions"),
    ("CARD PAYMENT", ""),
    ("ATM WITHDRAWAL", ""),
    ("TRANSFER TO SAVINGS", ""),
)


def large_statement(seed: int = 50_000) -> tuple[bytes, int]:
    """A seeded export shaped like a real one: mostly small card spends with a category or
    none, monthly salary and rent, quoted descriptions with commas, and repeated identical
    purchases on one day. Returns the file and the sum of its amounts in minor units."""
    rng = random.Random(seed)
    start = dt.date(2022, 1, 1)
    lines = ["Date,Description,Amount,Category"]
    total = minor = 0
    for n in range(LARGE_ROWS):
        day = start + dt.timedelta(days=n * 730 // LARGE_ROWS)
        if n % 97 == 0 and lines[-1].startswith(day.isoformat()):
            lines.append(lines[-1])  # the same purchase twice on one day: both are kept
            total += minor
            continue
        if n % 1000 == 0:
            description, category, minor = "ACME LTD SALARY", "Salary", 350_000
        elif n % 1000 == 1:
            description, category, minor = '"Rent, Flat 2"', "Rent", -120_000
        else:
            merchant, category = MERCHANTS[rng.randrange(len(MERCHANTS))]
            description = f"{merchant} {rng.randint(1, 9999)}"
            minor = -rng.randint(50, 25_000) if rng.random() < 0.95 else rng.randint(100, 9_000)
        total += minor
        sign = "-" if minor < 0 else ""
        amount = f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"
        lines.append(f"{day.isoformat()},{description},{amount},{category}")
    return ("\n".join(lines) + "\n").encode(), total


def test_50000_row_statement_imports_on_postgres(
    client: TestClient, world: World, upstash: UpstashHandle, sql_log: SqlLog
) -> None:
    data, total = large_statement()
    assert len(data) < get_settings().upload_max_bytes
    sql_log.clear()

    tracemalloc.start()
    started = time.perf_counter()
    response = upload(client, data, "large.csv")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert response.status_code == 201, response.text[:2000]
    body = response.json()
    assert (body["rows"], body["imported"], body["skipped"]) == (LARGE_ROWS, LARGE_ROWS, 0)
    assert world.scalar("SELECT count(*) FROM transactions") == LARGE_ROWS
    assert world.scalar("SELECT sum(amount_minor) FROM transactions") == total
    assert world.scalar("SELECT count(DISTINCT category) FROM transactions") == 8
    assert data_version(world, ALICE) == 1
    assert pending_ids(upstash) == [ALICE]
    print(
        f"\n50,000-row CSV import ({len(data) / 1e6:.1f} MB, under tracemalloc): "
        f"{LARGE_ROWS / elapsed:,.0f} rows/s ({elapsed:.2f} s), "
        f"peak traced memory {peak / 2**20:.1f} MiB, "
        f"{len(sql_log.inserts_into('transactions'))} INSERTs into transactions"
    )
