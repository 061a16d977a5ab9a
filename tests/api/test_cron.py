"""The cron endpoint: its auth matrix, its budget, and that it drains like the CLI.

By default it answers 202 with a run id and drains after the response (the test client runs
that background task before it returns); `?wait=true` answers with the run's figures.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api._http.app import create_app
from tests.conftest import CRON_SECRET, UpstashHandle
from tests.support import World

PATH = "/api/cron/process-financial-summary-queue"
WAIT = {"wait": "true"}


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bearer_header_is_accepted(client: TestClient, method: str) -> None:
    response = client.request(
        method, PATH, params=WAIT, headers={"Authorization": f"Bearer {CRON_SECRET}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["stop_reason"] == "empty"


def test_query_token_is_accepted(client: TestClient) -> None:
    assert client.get(PATH, params={"token": CRON_SECRET, **WAIT}).status_code == 200
    assert client.get(PATH, params={"token": CRON_SECRET}).status_code == 202


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_it_answers_202_with_a_run_id_and_drains_after_the_response(
    client: TestClient, world: World, method: str
) -> None:
    world.seed(users=12, per_user=3)
    response = client.request(method, PATH, headers={"Authorization": f"Bearer {CRON_SECRET}"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert body["budget_seconds"] == 280  # DRAIN_MAX_BUDGET_SECONDS: up to maxDuration
    run = world.rows(
        "SELECT trigger, claimed, succeeded, stop_reason FROM drain_runs WHERE id = :id",
        id=body["run_id"],
    )
    assert [tuple(r) for r in run] == [("cron", 12, 12, "empty")]
    assert world.queue.stats().pending == 0


def test_the_background_run_takes_the_callers_budget_and_max_jobs(
    client: TestClient, world: World
) -> None:
    world.seed(users=10, per_user=2)
    response = client.get(
        PATH,
        params={"max_jobs": 4, "budget_seconds": 9},
        headers={"Authorization": f"Bearer {CRON_SECRET}"},
    )
    assert response.json()["budget_seconds"] == 9
    claimed = world.scalar(
        "SELECT claimed FROM drain_runs WHERE id = :id", id=response.json()["run_id"]
    )
    assert claimed == 4


def test_a_background_run_that_meets_a_dead_queue_records_why(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    world.seed(users=3, per_user=1)
    upstash.server.set_faults(error_rate=1.0)
    response = client.get(PATH, headers={"Authorization": f"Bearer {CRON_SECRET}"})
    upstash.server.clear_faults()
    assert response.status_code == 202
    row = world.rows(
        "SELECT stop_reason, error FROM drain_runs WHERE id = :id", id=response.json()["run_id"]
    )
    assert row[0][0] == "error"
    assert "injected fault" in row[0][1]
    assert upstash.token not in row[0][1]
    assert world.queue.stats().pending == 3


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret"},
        {"Authorization": f"Bearer {CRON_SECRET}x"},
        {"Authorization": f"Basic {CRON_SECRET}"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_wrong_secret_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get(PATH, headers=headers)
    assert response.status_code == 401
    assert CRON_SECRET not in response.text
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_query_token_is_401(client: TestClient) -> None:
    assert client.get(PATH, params={"token": "nope"}).status_code == 401


def test_unconfigured_secret_disables_the_endpoint(world: World, env: pytest.MonkeyPatch) -> None:
    env.delenv("CRON_SECRET")
    from core.base.settings import get_settings

    get_settings.cache_clear()
    client = TestClient(create_app())
    response = client.get(PATH, headers={"Authorization": "Bearer anything"})
    assert response.status_code == 503
    assert "not configured" in response.json()["detail"]


def test_drains_and_reports_stats(client: TestClient, world: World) -> None:
    world.seed(users=30, per_user=5)
    response = client.post(PATH, params=WAIT, headers={"Authorization": f"Bearer {CRON_SECRET}"})
    body = response.json()
    assert response.status_code == 200
    assert (body["claimed"], body["succeeded"], body["failed"]) == (30, 30, 0)
    assert body["remaining"] == 0
    assert body["trigger"] == "cron"
    assert world.scalar("SELECT count(*) FROM financial_summaries") > 0


def test_max_jobs_and_budget_are_honoured(client: TestClient, world: World) -> None:
    world.seed(users=40, per_user=2)
    auth = {"Authorization": f"Bearer {CRON_SECRET}"}
    body = client.get(PATH, params={"max_jobs": 7, **WAIT}, headers=auth).json()
    assert (body["claimed"], body["stop_reason"], body["remaining"]) == (7, "max_jobs", 33)
    # A budget too small for even one job: nothing is claimed, nothing is lost.
    body = client.get(PATH, params={"budget_seconds": 0.001, **WAIT}, headers=auth).json()
    assert (body["claimed"], body["stop_reason"], body["remaining"]) == (0, "deadline", 33)
    assert world.queue.stats().leased == 0


def test_large_backlog_is_cut_at_the_deadline_with_nothing_lost(
    client: TestClient, world: World
) -> None:
    users = world.seed(users=400, per_user=3)
    auth = {"Authorization": f"Bearer {CRON_SECRET}"}
    body = client.get(PATH, params={"budget_seconds": 1.5, **WAIT}, headers=auth).json()
    assert body["stop_reason"] in {"deadline", "empty"}
    assert body["elapsed_seconds"] < 1.5
    # A batch the deadline cuts gives its unstarted ids back (released), on a loaded machine too.
    assert body["claimed"] == body["succeeded"] + body["released"]
    stats = world.queue.stats()
    assert stats.leased == 0
    assert stats.pending == len(users) - body["succeeded"] == body["remaining"]
    done = world.scalar("SELECT count(*) FROM users WHERE summary_dirty_since IS NULL")
    assert done == body["succeeded"]


def test_bad_parameters_are_422(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {CRON_SECRET}"}
    assert client.get(PATH, params={"max_jobs": 0}, headers=auth).status_code == 422
    assert client.get(PATH, params={"budget_seconds": -1}, headers=auth).status_code == 422
    assert client.get(PATH, params={"wait": "maybe"}, headers=auth).status_code == 422


def test_queue_down_is_503_with_the_reason(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    world.seed(users=3, per_user=1)
    upstash.server.set_faults(error_rate=1.0)
    response = client.get(PATH, params=WAIT, headers={"Authorization": f"Bearer {CRON_SECRET}"})
    assert response.status_code == 503
    body = response.json()
    assert body["stop_reason"] == "error"
    assert "injected fault" in body["error"]
    assert upstash.token not in response.text
    upstash.server.clear_faults()
    assert world.queue.stats().pending == 3  # nothing lost


def test_queue_not_configured_is_503(world: World, env: pytest.MonkeyPatch) -> None:
    env.delenv("UPSTASH_REDIS_REST_URL")
    from core.base.settings import get_settings

    get_settings.cache_clear()
    response = TestClient(create_app()).get(
        PATH, headers={"Authorization": f"Bearer {CRON_SECRET}"}
    )
    assert response.status_code == 503
    assert response.json()["stop_reason"] == "error"
    assert "not configured" in response.json()["error"]
