"""`python scripts/drain.py`, run as a user would: a subprocess from the repository root."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api._http.app import create_app
from core.queue import Failure
from tests.conftest import CRON_SECRET
from tests.support import World

ROOT = Path(__file__).resolve().parents[2]


def drain_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/drain.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),  # app_env has put this test's database and queue in it
        check=False,
    )


def figures(world: World) -> dict[tuple[str, str], Any]:
    rows = world.rows("SELECT user_id, currency, figures FROM financial_summaries")
    return {(u, c): f for u, c, f in rows}


def test_drains_a_backlog_like_the_endpoint(world: World) -> None:
    world.seed(users=45, per_user=20)
    done = drain_cli("--batch-size", "10", "--json")
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert (stats["claimed"], stats["succeeded"], stats["stop_reason"]) == (45, 45, "empty")
    assert stats["trigger"] == "cli"
    by_cli = figures(world)
    assert len(by_cli) > 45
    # Same work again through the cron endpoint: identical summaries.
    with world.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM financial_summaries")
        conn.exec_driver_sql("UPDATE users SET summary_version = 0")
    world.queue.enqueue(*{u for u, _ in by_cli})
    response = TestClient(create_app()).get(
        "/api/cron/process-financial-summary-queue?wait=true",
        headers={"Authorization": f"Bearer {CRON_SECRET}"},
    )
    assert response.json()["succeeded"] == 45
    assert figures(world) == by_cli


def test_plain_progress_lines_and_totals_when_not_a_terminal(world: World) -> None:
    world.seed(users=12, per_user=2)
    done = drain_cli("--batch-size", "5")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert sum(line.startswith("drained ") for line in lines) == 3
    assert any(line.startswith("succeeded") and line.split()[-1] == "12" for line in lines)


def test_max_jobs_and_budget_flags(world: World) -> None:
    world.seed(users=20, per_user=1)
    stats = json.loads(drain_cli("--max-jobs", "6", "--batch-size", "4", "--json").stdout)
    assert (stats["claimed"], stats["batches"], stats["stop_reason"]) == (6, 2, "max_jobs")
    assert stats["remaining"] == 14
    stats = json.loads(drain_cli("--budget-seconds", "0.001", "--json").stdout)
    assert (stats["claimed"], stats["stop_reason"]) == (0, "deadline")


def test_stats_and_dead_letter_flags(world: World) -> None:
    world.seed(users=2, per_user=1)
    world.queue.enqueue("ghost-1", "ghost-2")
    stats = json.loads(drain_cli("--stats", "--json").stdout)
    assert stats["pending"] == 4
    done = drain_cli("--json")
    assert done.returncode == 1  # jobs failed
    assert json.loads(done.stdout)["dead"] == 2
    listing = drain_cli("--dead")
    assert "ghost-1" in listing.stdout
    assert "no such user" in listing.stdout
    dead = json.loads(drain_cli("--dead", "--json").stdout)
    assert sorted(d["id"] for d in dead) == ["ghost-1", "ghost-2"]
    assert json.loads(drain_cli("--requeue-dead", "ghost-1", "--json").stdout) == {"requeued": 1}
    assert world.queue.stats().pending == 1
    assert json.loads(drain_cli("--purge-dead", "--json").stdout) == {"purged": 1}
    assert "no dead letters" in drain_cli("--dead").stdout


def test_bad_flags_and_unknown_kind(world: World) -> None:
    assert drain_cli("--max-jobs", "0").returncode == 2
    done = drain_cli("--kind", "nope")
    assert done.returncode == 2
    assert "unknown job kind 'nope'" in done.stderr


def test_ctrl_c_finishes_the_batch_and_releases_nothing(world: World) -> None:
    world.seed(users=300, per_user=2)
    proc = subprocess.Popen(
        [sys.executable, "scripts/drain.py", "--batch-size", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # a batch is done: the loop is running
    assert first.startswith("drained ")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # the documented status of an interrupted run
    assert "stopping after this batch" in err
    assert "interrupted" in out
    stats = world.queue.stats()
    assert stats.leased == 0
    done = world.scalar("SELECT count(*) FROM users WHERE summary_dirty_since IS NULL")
    assert stats.pending + int(done) == 300


def test_explains_itself_outside_the_project_environment(tmp_path: Path) -> None:
    """A checkout with no .venv yet (with one, the script re-execs under it: test_token.py)."""
    bare = Path(sys.base_prefix) / "bin" / "python3"
    probe = subprocess.run([bare, "-c", "import sqlmodel"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("the base interpreter has the dependencies installed")
    for part in ("scripts/drain.py", "tooling/__init__.py", "tooling/venv.py"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_bytes((ROOT / part).read_bytes())
    done = subprocess.run(
        [bare, "scripts/drain.py", "--stats"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "make venv" in done.stderr
    assert "make drain ARGS='--stats'" in done.stderr


def test_queue_down_is_one_line_and_exit_2(world: World, env: pytest.MonkeyPatch) -> None:
    env.setenv("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9")  # nothing listens there
    for args in (("--stats",), ()):
        done = drain_cli(*args)
        assert done.returncode == 2
        assert done.stderr.strip() == (
            "drain: cannot reach the queue at http://127.0.0.1:9 (ConnectError)"
        )


def test_a_wrong_token_is_told_from_an_unreachable_queue(
    world: World, env: pytest.MonkeyPatch
) -> None:
    env.setenv("UPSTASH_REDIS_REST_TOKEN", "not-the-token")
    for args in (("--stats",), ()):
        done = drain_cli(*args)
        assert done.returncode == 3, done.stderr
        line = done.stderr.strip()
        assert "refused the token (401)" in line, line
        assert "UPSTASH_REDIS_REST_TOKEN" in line
        assert "not-the-token" not in line
        assert "\n" not in line


def test_unknown_ids_are_named(world: World) -> None:
    world.queue.enqueue("real-dead")
    world.queue.settle(world.queue.claim(1), failed=[Failure("real-dead", "x", permanent=True)])
    done = drain_cli("--requeue-dead", "nobody", "real-dead")
    assert done.returncode == 1
    assert "not dead letters (left alone): nobody" in done.stderr
    assert "requeued  1" in done.stdout
    done = drain_cli("--purge-dead", "nobody", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"purged": 0, "not_dead": ["nobody"]}


def test_retrying_lists_next_due_attempts_and_last_error(world: World) -> None:
    assert "nothing is waiting for a retry" in drain_cli("--retrying").stdout
    world.queue.enqueue("flaky")
    world.queue.settle(
        world.queue.claim(1), failed=[Failure("flaky", "TimeoutError: query timed out")]
    )
    done = drain_cli("--retrying")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("flaky\tattempts=1\tdue ")
    assert "(in " in line
    assert line.endswith("attempt 1: TimeoutError: query timed out")
    listed = json.loads(drain_cli("--retrying", "--json").stdout)
    assert [(j["id"], j["attempts"]) for j in listed] == [("flaky", 1)]


def test_watch_shows_live_figures_until_ctrl_c(world: World) -> None:
    world.queue.enqueue("a", "b")
    proc = subprocess.Popen(
        [sys.executable, "scripts/drain.py", "--watch", "--interval", "0.2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "pending=2" in first
    world.queue.enqueue("c")
    deadline = time.monotonic() + 30
    while "pending=3" not in proc.stdout.readline():
        assert time.monotonic() < deadline, "the figures never moved"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_ctrl_c_during_start_up_prints_no_traceback(world: World) -> None:
    world.seed(users=50, per_user=1)
    # From half a second on: before that the interpreter itself may still be starting, and a
    # Ctrl-C inside Python's own start-up is Python's to report.
    for delay in (0.5, 1.0, 2.0):
        proc = subprocess.Popen(
            [sys.executable, "scripts/drain.py", "--batch-size", "1"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        assert proc.returncode in (0, 130), (delay, proc.returncode, err)


def test_a_failed_job_is_named_with_its_error_not_only_counted(world: World) -> None:
    """Issue 17: the CLI said `failed=1` with no user id and no error."""
    import datetime as dt

    from sqlmodel import Session

    from core.writes.ledger import NewTransaction, add_transactions

    (good,) = world.seed(users=1, per_user=2)
    poison = "poison-user"
    with Session(world.engine) as session:
        # Totals beyond the summary's 64-bit columns (stored before the write-time bound).
        rows = [NewTransaction(dt.date(2025, 1, 1), 10**18, "USD") for _ in range(10)]
        add_transactions(session, poison, rows)
        session.commit()
    world.queue.enqueue(poison)
    done = drain_cli()
    assert done.returncode == 1, done.stderr
    assert "failed=1" in done.stdout
    failed = [line for line in done.stderr.splitlines() if "job failed" in line]
    assert len(failed) == 1, done.stderr
    assert f"user={poison}" in failed[0]
    assert "attempt=1/" in failed[0]
    assert "error=" in failed[0]
    assert good not in done.stderr


def test_verify_finds_rows_changed_behind_the_app_and_rebuild_mends_them(world: World) -> None:
    users = world.seed(users=3, per_user=4, enqueue=False)
    assert drain_cli("--verify").returncode == 0
    # A row changed behind the app's back (a manual UPDATE): the cells no longer match.
    with world.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE transactions SET amount_minor = amount_minor - 100 WHERE id = "
                "(SELECT min(id) FROM transactions WHERE user_id = :u)"
            ),
            {"u": users[1]},
        )
    found = drain_cli("--verify", "--json")
    assert found.returncode == 1, found.stderr
    assert list(json.loads(found.stdout)["drifted"]) == [users[1]]
    mended = drain_cli("--rebuild", "--json")
    assert mended.returncode == 0, mended.stderr
    assert json.loads(mended.stdout)["users"] == 3
    assert "rebuilt 3/3 users" in mended.stderr
    assert drain_cli("--verify").returncode == 0
    # The summary was recomputed from the mended cells, though the data version never moved.
    expected = sum(t.amount_minor for t in world.expected[users[1]]) - 100
    net = world.scalar(
        "SELECT sum(net_minor) FROM financial_summaries WHERE user_id = :u", u=users[1]
    )
    assert net == expected
    one = drain_cli("--rebuild", users[0], "nobody", "--json")
    assert one.returncode == 1
    assert json.loads(one.stdout)["failed"] == ["nobody: no such user"]
