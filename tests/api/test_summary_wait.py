"""`GET /api/summary?wait_seconds=N`: answers once the summary reflects the latest data version,
or after N seconds with `stale: true`. Time is a fake clock moved by the route's own sleeps, so
no test depends on how fast this machine is. Real Postgres and Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import core.summary.read as read_module
from core.drain.runner import DrainOptions, drain
from functions import get_kind
from tests.api.conftest import ALICE, bearer
from tests.support import World


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int], None] = lambda n: None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0  # never a busy loop
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep(len(self.sleeps))


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(read_module, "_sleep", fake.sleep)
    monkeypatch.setattr(read_module, "_monotonic", fake.monotonic)
    return fake


def write(client: TestClient) -> None:
    created = client.post(
        "/api/transactions",
        json={"date": "2025-01-02", "amount": "-12.50", "currency": "USD"},
        headers=bearer(ALICE),
    )
    assert created.status_code == 201


def cron(world: World) -> None:
    kind = get_kind("financial-summary")
    drain(kind, world.queue, world.context, DrainOptions(budget_seconds=10))


@pytest.mark.parametrize("value", ["-1", "11", "10.5", "soon"])
def test_out_of_range_is_422(client: TestClient, value: str) -> None:
    answer = client.get("/api/summary", params={"wait_seconds": value}, headers=bearer(ALICE))
    assert answer.status_code == 422


def test_a_fresh_summary_answers_at_once(
    client: TestClient, world: World, fake_time: FakeTime
) -> None:
    write(client)
    cron(world)
    answer = client.get("/api/summary", params={"wait_seconds": 10}, headers=bearer(ALICE))
    assert answer.json()["stale"] is False
    assert fake_time.sleeps == []


def test_it_answers_as_soon_as_the_summary_catches_up(
    client: TestClient, world: World, fake_time: FakeTime
) -> None:
    write(client)
    fake_time.on_sleep = lambda n: cron(world) if n == 3 else None
    answer = client.get("/api/summary", params={"wait_seconds": 10}, headers=bearer(ALICE))
    body = answer.json()
    assert body["stale"] is False
    assert body["currencies"]["USD"]["net_minor"] == -1250
    assert len(fake_time.sleeps) == 3  # it looked again after each pause, and stopped there


def test_it_gives_up_after_n_seconds_with_stale_true(
    client: TestClient, fake_time: FakeTime
) -> None:
    write(client)
    answer = client.get("/api/summary", params={"wait_seconds": 2}, headers=bearer(ALICE))
    assert answer.status_code == 200
    assert answer.json()["stale"] is True
    assert sum(fake_time.sleeps) == pytest.approx(2.0)
    assert len(fake_time.sleeps) <= 2 / read_module.WAIT_POLL_SECONDS + 1


def test_waiting_holds_one_connection(
    client: TestClient, world: World, fake_time: FakeTime
) -> None:
    write(client)
    checkouts: list[object] = []

    def count(*args: object) -> None:
        checkouts.append(args)

    sa.event.listen(world.engine, "checkout", count)
    try:
        client.get("/api/summary", params={"wait_seconds": 3}, headers=bearer(ALICE))
    finally:
        sa.event.remove(world.engine, "checkout", count)
    assert len(checkouts) == 1


def test_without_wait_seconds_nothing_waits(client: TestClient, fake_time: FakeTime) -> None:
    write(client)
    assert client.get("/api/summary", headers=bearer(ALICE)).json()["stale"] is True
    assert fake_time.sleeps == []
