"""Idempotency-Key on the two creating POSTs: a client's retry never doubles money.

Issue 14: the same `POST /api/transactions` sent twice stored two copies, and a 500-row batch
whose client timed out (the server had committed) and retried left 1,000 rows. With the header,
a repeat of the same request answers the first answer (same status, same bytes) and writes and
enqueues nothing; the key with another request is 422; a repeat while the first runs is 409.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api._http.app import create_app
from tests.api.conftest import ALICE, BOB, bearer, clear_queue, data_version, pending_ids
from tests.conftest import UpstashHandle, clear_caches
from tests.support import World, make_world

PATH = "/api/transactions"
UPLOAD = "/api/transactions/upload"
CSV = b"Date,Description,Amount\n2025-01-31,Monthly account fee,-5.00\n2025-02-01,Coffee,-3.10\n"
PORTS = range(10300, 10400)
PARALLEL = 10


def rows(n: int = 3) -> list[dict[str, Any]]:
    return [
        {"date": "2025-01-31", "amount": f"-{i + 1}.00", "currency": "USD", "description": "x"}
        for i in range(n)
    ]


def keyed(key: str, user: str = ALICE) -> dict[str, str]:
    return {**bearer(user), "Idempotency-Key": f'"{key}"'}


def count(world: World, table: str = "transactions") -> int:
    return int(world.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608 - constant names


# --- JSON creates ---------------------------------------------------------------------------------


def test_a_repeat_answers_the_first_answer_and_writes_nothing(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    first = client.post(PATH, json=rows(), headers=keyed("k-1"))
    assert first.status_code == 201, first.text
    clear_queue(upstash)

    again = client.post(PATH, json=rows(), headers=keyed("k-1"))

    assert again.status_code == 201
    assert again.content == first.content
    assert count(world) == 3
    assert data_version(world, ALICE) == 1
    assert pending_ids(upstash) == []  # nothing enqueued by the replay


def test_the_same_key_with_another_body_is_422_and_writes_nothing(
    client: TestClient, world: World
) -> None:
    assert client.post(PATH, json=rows(), headers=keyed("k-2")).status_code == 201

    other = client.post(PATH, json=rows(2), headers=keyed("k-2"))

    assert other.status_code == 422, other.text
    assert "Idempotency-Key" in other.text
    assert count(world) == 3


def test_keys_are_per_user(client: TestClient, world: World) -> None:
    alice = client.post(PATH, json=rows(), headers=keyed("shared"))
    bob = client.post(PATH, json=rows(2), headers=keyed("shared", BOB))

    assert (alice.status_code, bob.status_code) == (201, 201), bob.text
    assert world.scalar("SELECT count(*) FROM transactions WHERE user_id = :u", u=BOB) == 2


def test_without_a_key_every_post_writes(client: TestClient, world: World) -> None:
    for _ in range(2):
        assert client.post(PATH, json=rows(1), headers=bearer(ALICE)).status_code == 201
    assert count(world) == 2


def test_a_malformed_key_is_refused(client: TestClient, world: World) -> None:
    for bad in ('"', "x" * 300, '"a\x7fb"'):
        response = client.post(PATH, json=rows(), headers={**bearer(ALICE), "Idempotency-Key": bad})

        assert response.status_code == 400, (bad, response.text)
        assert "Idempotency-Key" in response.text
    assert count(world) == 0


def test_an_expired_key_is_forgotten(client: TestClient, world: World) -> None:
    assert client.post(PATH, json=rows(1), headers=keyed("old")).status_code == 201
    with world.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE idempotency_keys SET expires_at = created_at - interval '1 second'"
        )

    again = client.post(PATH, json=rows(2), headers=keyed("old"))

    assert again.status_code == 201, again.text
    assert count(world) == 3
    assert count(world, "idempotency_keys") == 1  # the expired row went


def test_an_error_answer_is_not_remembered(client: TestClient, world: World) -> None:
    bad = client.post(UPLOAD, files={"file": ("s.csv", b"nothing,useful\n", "text/csv")},
                      headers=keyed("u-err"))  # fmt: skip
    assert bad.status_code in (415, 422), bad.text

    good = client.post(UPLOAD, files={"file": ("s.csv", CSV, "text/csv")}, headers=keyed("u-err"))

    assert good.status_code == 201, good.text


# --- Uploads --------------------------------------------------------------------------------------


def upload(client: TestClient, key: str, data: bytes = CSV, **form: str) -> httpx.Response:
    response: httpx.Response = client.post(
        UPLOAD, files={"file": ("s.csv", data, "text/csv")}, data=form, headers=keyed(key)
    )
    return response


def test_an_upload_repeat_answers_the_first_answer(client: TestClient, world: World) -> None:
    first = upload(client, "u-1", account="Checking")
    assert first.status_code == 201, first.text

    again = upload(client, "u-1", account="Checking")

    assert again.status_code == 201
    assert again.content == first.content
    assert count(world, "statements") == 1
    assert count(world) == 2


def test_an_upload_with_other_bytes_or_fields_is_422(client: TestClient, world: World) -> None:
    assert upload(client, "u-2").status_code == 201

    other_file = upload(client, "u-2", CSV + b"2025-02-02,Tea,-1.00\n")
    other_form = upload(client, "u-2", account="Savings")

    assert (other_file.status_code, other_form.status_code) == (422, 422), other_form.text
    assert "Idempotency-Key" in other_form.text
    assert count(world, "statements") == 1


# --- On SQLite (development) ---------------------------------------------------------------------


def test_a_repeat_is_answered_from_sqlite_too(
    app_env: dict[str, str], env: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    env.setenv("DATABASE_URL", sqlite_url)
    clear_caches()
    world = make_world()
    with TestClient(create_app()) as client:
        first = client.post(PATH, json=rows(), headers=keyed("s-1"))
        again = client.post(PATH, json=rows(), headers=keyed("s-1"))
        other = client.post(PATH, json=rows(1), headers=keyed("s-1"))

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.content == first.content
    assert count(world) == 3


# --- Races, against a real server -----------------------------------------------------------------


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 10300-10399")


@pytest.fixture(params=["postgres", "sqlite"])
def race_world(
    request: pytest.FixtureRequest, app_env: dict[str, str], env: pytest.MonkeyPatch
) -> World:
    """Postgres (advisory locks: a repeat in flight is 409) and SQLite (the database's write
    lock: a repeat waits for the first)."""
    if request.param == "sqlite":
        env.setenv("DATABASE_URL", request.getfixturevalue("sqlite_url"))
        clear_caches()
    return make_world()


@contextmanager
def _serving() -> Iterator[str]:
    """The app under a real uvicorn server (its worker threads run the sync routes in parallel)."""
    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    for _ in range(500):
        if instance.started:
            break
        threading.Event().wait(0.01)
    assert instance.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(10)


@pytest.fixture
def server(race_world: World) -> Iterator[str]:
    with _serving() as url:
        yield url


@pytest.fixture
def pg_server(world: World) -> Iterator[str]:
    with _serving() as url:
        yield url


def _parallel(send: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """PARALLEL clients released at once; each retries a 409 (the first is still running) as a
    client following the contract would, a bounded number of times."""
    barrier = threading.Barrier(PARALLEL)
    answers: list[httpx.Response | BaseException] = [RuntimeError("not run")] * PARALLEL

    def one(index: int) -> None:
        try:
            with httpx.Client(timeout=30) as http:
                barrier.wait()
                response = send(http)
                for _ in range(200):
                    if response.status_code != 409:
                        break
                    threading.Event().wait(0.02)
                    response = send(http)
                answers[index] = response
        except BaseException as exc:
            answers[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    responses = [a for a in answers if isinstance(a, httpx.Response)]
    assert len(responses) == PARALLEL, answers
    return responses


def test_ten_parallel_keyed_posts_store_one_set_of_rows(server: str, race_world: World) -> None:
    world = race_world
    body = rows(5)
    responses = _parallel(lambda http: http.post(server + PATH, json=body, headers=keyed("race")))

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert count(world) == 5
    assert data_version(world, ALICE) == 1


def test_ten_parallel_keyed_uploads_store_one_statement(server: str, race_world: World) -> None:
    world = race_world

    def send(http: httpx.Client) -> httpx.Response:
        files = {"file": ("s.csv", CSV, "text/csv")}
        return http.post(server + UPLOAD, files=files, headers=keyed("race-up"))

    responses = _parallel(send)

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert count(world, "statements") == 1
    assert count(world) == 2


def test_a_repeat_while_the_first_runs_is_409(
    pg_server: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = pg_server  # on SQLite a repeat waits for the first instead (the race tests)
    import core.writes.transactions as txns

    inside, release = threading.Event(), threading.Event()
    original = txns.create

    def slow_create(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(txns, "create", slow_create)
    first: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(
            httpx.post(server + PATH, json=rows(), headers=keyed("busy"), timeout=30)
        )
    )
    thread.start()
    assert inside.wait(30)

    during = httpx.post(server + PATH, json=rows(), headers=keyed("busy"), timeout=30)
    release.set()
    thread.join(30)
    after = httpx.post(server + PATH, json=rows(), headers=keyed("busy"), timeout=30)

    assert during.status_code == 409, during.text
    assert "Idempotency-Key" in during.text
    assert first[0].status_code == 201
    assert (after.status_code, after.content) == (201, first[0].content)
    assert count(world) == 3
