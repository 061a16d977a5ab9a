"""Optional notification channels inside the financial-summary job: real Postgres and Redis,
SES under moto, a local webhook receiver that verifies signatures."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import functions.financial_summary.store as store_module
from core.drain.runner import DrainOptions, DrainStats, run
from core.notify.channels import SENT
from core.queue import ClaimedJob
from functions import get_kind
from tests.conftest import clear_caches
from tests.core.notify.test_channels import SECRET, Receiver, free_port
from tests.support import QueryCounter, World, make_world

KIND = get_kind("financial-summary")
SENDER = "tally@example.com"
REGION = "eu-west-1"

MakeWorld = Callable[..., World]


@pytest.fixture
def channel_world(app_env: dict[str, str], env: pytest.MonkeyPatch) -> MakeWorld:
    """Like `world`, with the channel variables given set first (settings read them once)."""

    def build(**variables: str) -> World:
        for name, value in variables.items():
            env.setenv(name, value)
        clear_caches()
        return make_world()

    return build


@pytest.fixture
def ses(env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[Any]]:
    """moto's SES with a verified sender; yields the list of messages it accepted."""
    import boto3
    from moto import mock_aws
    from moto.backends import get_backend
    from moto.core.models import DEFAULT_ACCOUNT_ID

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.setenv(name, "testing")
    env.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with mock_aws():
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        yield get_backend("ses")[DEFAULT_ACCOUNT_ID][REGION].sent_messages


def set_emails(world: World, emails: dict[str, str]) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE users SET email = :email WHERE id = :id"),
            [{"id": uid, "email": email} for uid, email in emails.items()],
        )


def channels_by_user(world: World) -> dict[str, dict[str, str]]:
    rows = world.rows("SELECT user_id, channels FROM notifications ORDER BY id")
    return {uid: json.loads(c) if isinstance(c, str) else c for uid, c in rows}


def drain_all() -> DrainStats:
    return run(KIND, "test", DrainOptions(batch_size=10))


def test_email_and_signed_webhook_are_delivered_and_recorded(
    channel_world: MakeWorld, ses: list[Any]
) -> None:
    with Receiver() as receiver:
        world = channel_world(
            NOTIFY_EMAIL_FROM=SENDER,
            AWS_REGION=REGION,
            NOTIFY_WEBHOOK_URL=receiver.url,
            NOTIFY_WEBHOOK_SECRET=SECRET,
        )
        users = world.seed(users=3, per_user=8)
        set_emails(world, {users[0]: "ana@example.com", users[1]: "bo@example.com"})
        stats = drain_all()
        assert (stats.succeeded, stats.changed) == (3, 3)
        assert channels_by_user(world) == {
            users[0]: {"email": SENT, "webhook": SENT},
            users[1]: {"email": SENT, "webhook": SENT},
            users[2]: {"email": "skipped: no address", "webhook": SENT},
        }
        assert sorted(m.destinations["ToAddresses"][0] for m in ses) == [
            "ana@example.com",
            "bo@example.com",
        ]
        assert all(r.accepted for r in receiver.received)
        events = {json.loads(r.body)["user_id"]: json.loads(r.body) for r in receiver.received}
        stored = dict(world.rows("SELECT user_id, id FROM notifications"))
        assert {uid: e["id"] for uid, e in events.items()} == stored
        usd = world.scalar(
            "SELECT net_minor FROM financial_summaries WHERE user_id = :u AND currency = 'USD'",
            u=users[0],
        )
        assert events[users[0]]["data"]["currencies"]["USD"]["net_minor"] == usd

        # Nothing changed: no new notification, so nothing is sent again.
        world.queue.enqueue(*users)
        assert drain_all().changed == 0
        assert (len(ses), len(receiver.received)) == (2, 3)


def test_failing_channels_leave_the_job_succeeded_and_the_failure_recorded(
    channel_world: MakeWorld, ses: list[Any]
) -> None:
    with Receiver(status=500) as receiver:
        world = channel_world(
            NOTIFY_EMAIL_FROM="not-verified@example.com",
            AWS_REGION=REGION,
            NOTIFY_WEBHOOK_URL=receiver.url,
            NOTIFY_WEBHOOK_SECRET=SECRET,
        )
        users = world.seed(users=2, per_user=5)
        set_emails(world, dict.fromkeys(users, "ana@example.com"))
        stats = drain_all()
    assert (stats.succeeded, stats.failed, stats.retried) == (2, 0, 0)
    jobs = world.rows("SELECT status, error FROM background_jobs")
    assert jobs == [("succeeded", None)] * 2
    for outcome in channels_by_user(world).values():
        assert outcome["email"].startswith("failed: MessageRejected")
        assert outcome["webhook"] == "failed: HTTP 500"
    assert world.scalar("SELECT count(*) FROM users WHERE summary_dirty_since IS NULL") == 2
    queue = world.queue.stats()
    assert (queue.pending, queue.retrying, queue.dead) == (0, 0, 0)


def test_unreachable_webhook_does_not_fail_the_job(channel_world: MakeWorld) -> None:
    world = channel_world(
        NOTIFY_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/unreachable",
        NOTIFY_WEBHOOK_SECRET=SECRET,
    )
    users = world.seed(users=3, per_user=4)
    stats = drain_all()
    assert (stats.succeeded, stats.failed) == (3, 0)
    outcomes = [o["webhook"] for o in channels_by_user(world).values()]
    assert len(outcomes) == len(users)
    assert all(o.startswith("failed: ") for o in outcomes), outcomes


def test_a_crash_in_delivery_leaves_the_job_succeeded(
    channel_world: MakeWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world = channel_world(
        NOTIFY_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/x", NOTIFY_WEBHOOK_SECRET=SECRET
    )
    world.seed(users=2, per_user=4)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in a channel")

    monkeypatch.setattr(store_module, "deliver", broken)
    stats = drain_all()
    assert (stats.succeeded, stats.failed) == (2, 0)
    assert list(channels_by_user(world).values()) == [{}, {}]  # in-app rows are there
    assert "notification channels failed: RuntimeError" in caplog.text


def test_no_channel_configured_means_no_delivery_at_all(
    channel_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = channel_world()
    world.seed(users=3, per_user=4)
    calls: list[object] = []

    def spy(*args: Any, **kwargs: Any) -> dict[int, dict[str, str]]:
        calls.append(args)
        return {}

    monkeypatch.setattr(store_module, "deliver", spy)
    assert drain_all().changed == 3
    assert calls == []
    assert list(channels_by_user(world).values()) == [{}, {}, {}]


@pytest.mark.parametrize("batch", [1, 7, 40])
@pytest.mark.parametrize(("email", "extra"), [(True, 2), (False, 1)])
def test_channels_add_a_fixed_number_of_queries_per_batch(
    channel_world: MakeWorld,
    ses: list[Any],
    batch: int,
    email: bool,
    extra: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Receiver() as receiver:
        variables = {"NOTIFY_WEBHOOK_URL": receiver.url, "NOTIFY_WEBHOOK_SECRET": SECRET}
        if email:
            variables |= {"NOTIFY_EMAIL_FROM": SENDER, "AWS_REGION": REGION}
        world = channel_world(**variables)
        users = world.seed(users=batch, per_user=6, enqueue=False)
        set_emails(world, {uid: f"{uid}@example.com" for uid in users})
        counter = QueryCounter(world.engine, monkeypatch)
        result = KIND.run([ClaimedJob(u, 1) for u in users], world.context())
    assert len(result.changed) == batch
    # the 10 of a batch without channels, + the address SELECT (email only) + the results UPDATE
    assert counter.count == 10 + extra
    assert len(receiver.received) == batch
    assert len(ses) == (batch if email else 0)
