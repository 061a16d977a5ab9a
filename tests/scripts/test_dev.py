"""`make dev` runs the whole stack with embedded defaults and no external service."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tooling import devstate
from tooling.venv import INTERRUPTED_MESSAGE

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(state: Path) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["TALLY_STATE_DIR"] = str(state)
    return env


def start(
    cwd: Path, state: Path, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "dev.py"), *args],
        cwd=cwd,
        env={**clean_env(state), **(extra_env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(proc: subprocess.Popen[str], port: int) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body
    raise AssertionError("dev server did not answer")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    return output


@contextmanager
def running(cwd: Path, state: Path, port: int) -> Iterator[list[str]]:
    proc = start(cwd, state, "--port", str(port))
    out: list[str] = []
    try:
        wait_healthy(proc, port)
        yield out
    finally:
        out.append(stop(proc))


def test_dev_stack_serves_health_with_no_external_service(tmp_path: Path) -> None:
    port, state = free_port(), tmp_path / "state"
    proc = start(tmp_path, state, "--port", str(port))
    try:
        body = wait_healthy(proc, port)
        checks = body["checks"]
        assert isinstance(checks, dict)
        assert checks["database"]["ok"] is True
        assert checks["queue"]["ok"] is True
        assert (state / "tally.db").exists()
    finally:
        output = stop(proc)
    assert "Tally stopped." in output
    assert "Traceback" not in output
    # Ready-to-paste lines, with the real values: nothing to export first.
    values = devstate.read(state / "dev.env")
    base = f"http://127.0.0.1:{port}"
    assert f"curl {base}/api/health" in output
    assert f'-H "Authorization: Bearer {values["CRON_SECRET"]}" {base}/api/cron/' in output
    assert f"{base}/api/transactions" in output
    assert f'-H "Authorization: Bearer {values["TALLY_DEV_TOKEN"]}" {base}/api/summary' in output
    assert f"Operator page: {base}/api/admin  " in output
    assert values["ADMIN_SECRET"] in output
    assert "$CRON_SECRET" not in output
    assert oct((state / "dev.env").stat().st_mode & 0o777) == "0o600"


def banner_line(proc: subprocess.Popen[str], prefix: str) -> str:
    """The banner line that starts with `prefix` (the banner is printed before health answers)."""
    assert proc.stdout is not None
    for _ in range(200):
        line = proc.stdout.readline()
        if line.strip().startswith(prefix):
            return line.strip()
    raise AssertionError(f"no banner line starting {prefix!r}")


def test_the_banner_operator_page_url_serves_the_page(tmp_path: Path) -> None:
    port, state = free_port(), tmp_path / "state"
    proc = start(tmp_path, state, "--port", str(port))
    try:
        wait_healthy(proc, port)
        line = banner_line(proc, "Operator page:")
        url = line.split()[2]
        response = httpx.get(url, headers={"Accept": "text/html"}, timeout=10)
        secret = devstate.read(state / "dev.env")["ADMIN_SECRET"]
        figures = httpx.get(
            f"{url}/queue", headers={"Authorization": f"Bearer {secret}"}, timeout=10
        )
    finally:
        stop(proc)
    assert response.status_code == 200, (url, response.text)
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Tally queue: financial-summary</title>" in response.text
    assert 'id="secret-form"' in response.text  # it asks for the secret the banner shows
    assert secret in line
    assert secret not in url
    assert figures.status_code == 200, figures.text


def test_the_banner_drain_line_finds_a_state_folder_of_its_own(tmp_path: Path) -> None:
    """With the state elsewhere than `.tally/`, the pasted line still reads this stack's file."""
    port, state = free_port(), tmp_path / "state"
    proc = start(tmp_path, state, "--port", str(port))
    try:
        wait_healthy(proc, port)
        line = banner_line(proc, "TALLY_STATE_DIR=")
        env = {k: v for k, v in clean_env(state).items() if k != "TALLY_STATE_DIR"}
        done = subprocess.run(
            ["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        stop(proc)
    assert "make drain ARGS='--stats'" in line
    assert done.returncode == 0, done.stderr
    assert "pending" in done.stdout


def test_restart_keeps_secrets_and_the_embedded_queue(tmp_path: Path) -> None:
    from upstash_redis import Redis

    from core.base.settings import Settings
    from core.queue import Failure, JobQueue

    port, state = free_port(), tmp_path / "state"
    with running(tmp_path, state, port):
        first = devstate.read(state / "dev.env")
        redis = Redis(url=first["UPSTASH_REDIS_REST_URL"], token=first["UPSTASH_REDIS_REST_TOKEN"])
        queue = JobQueue(redis, "financial-summary", Settings())
        queue.enqueue("poison")
        queue.settle(queue.claim(1), failed=[Failure("poison", "ValueError: bad", permanent=True)])
    with running(tmp_path, state, port):
        second = devstate.read(state / "dev.env")
        # The URL too: a running `--watch` or a pasted URL keeps working across a restart.
        for name in (
            "CRON_SECRET",
            "ADMIN_SECRET",
            "UPSTASH_REDIS_REST_TOKEN",
            "UPSTASH_REDIS_REST_URL",
        ):
            assert second[name] == first[name], name
        redis = Redis(
            url=second["UPSTASH_REDIS_REST_URL"], token=second["UPSTASH_REDIS_REST_TOKEN"]
        )
        letters = JobQueue(redis, "financial-summary", Settings()).dead_letters()
        assert [(d.id, d.error) for d in letters] == [("poison", "attempt 1: ValueError: bad")]


def test_a_busy_port_is_one_line_before_anything_claims_to_run(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(tmp_path, tmp_path / "state", "--port", str(port))
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert f"127.0.0.1:{port}" in lines[0]
    assert f"make dev ARGS='--port {port + 1}'" in lines[0]
    assert "running" not in output.replace("another `make dev` running", "")


def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """Ctrl-C before Tally serves: one line saying so and exit 130 (128 + SIGINT, as a shell
    reports it); once it serves, the normal stop and 0. Signalled as a terminal does: the whole
    process group."""
    seen = set()
    for delay in (0.3, 0.8, 1.5, 2.5):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "dev.py"), "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(tmp_path / f"state-{delay}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        assert "Traceback" not in output, (delay, output)
        if "Tally is running" in output:  # the banner came first: the normal stop (or, in the
            # instant between the banner and serving, the start-up line)
            last = output.strip().splitlines()[-1]
            assert (proc.returncode, last) in {(0, "Tally stopped."), (130, INTERRUPTED_MESSAGE)}
            continue
        seen.add(delay)
        assert proc.returncode == 130, (delay, proc.returncode, output)
        assert output.strip().splitlines() == [INTERRUPTED_MESSAGE], (delay, output)
    assert seen, "every Ctrl-C came after start-up: nothing was tested"


def test_make_dev_passes_args(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "-s", "dev", "ARGS=--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path / "state"),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--port" in done.stdout
    assert "--upstash-port" in done.stdout
    assert "--state-dir" in done.stdout


TICK_EVERY_SECOND = ("--tick-seconds", "1")


def test_a_local_tick_drains_without_anyone_calling_the_cron(tmp_path: Path) -> None:
    """In place of cron-job.org: with kicks off, only the tick can bring the summary up to date."""
    port, state = free_port(), tmp_path / "state"
    kicks_off = {"KICK_AFTER_WRITE": "false"}
    proc = start(tmp_path, state, "--port", str(port), *TICK_EVERY_SECOND, extra_env=kicks_off)
    try:
        wait_healthy(proc, port)
        token = devstate.read(state / "dev.env")["TALLY_DEV_TOKEN"]
        auth = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}"
        row = {"date": "2026-01-15", "amount": "-12.50", "currency": "USD", "description": "Tea"}
        assert httpx.post(f"{base}/api/transactions", json=row, headers=auth).status_code == 201
        deadline = time.monotonic() + 30
        summary: dict[str, object] = {}
        while time.monotonic() < deadline:
            summary = httpx.get(f"{base}/api/summary", headers=auth).json()
            if summary["state"] == "current" and not summary["stale"]:
                break
            time.sleep(0.3)
        assert summary["state"] == "current", summary
        assert summary["stale"] is False, summary
        # A job that fails is one line in the server's own output, naming the user and why.
        from upstash_redis import Redis

        from core.base.settings import Settings
        from core.queue import JobQueue

        written = devstate.read(state / "dev.env")
        redis = Redis(
            url=written["UPSTASH_REDIS_REST_URL"], token=written["UPSTASH_REDIS_REST_TOKEN"]
        )
        queue = JobQueue(redis, "financial-summary", Settings())
        queue.enqueue("ghost-of-dev")
        deadline = time.monotonic() + 30
        while not queue.dead_letters() and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        output = stop(proc)
    assert "local cron tick every 1 s" in output
    assert "tick: drained 1 job(s)" in output
    assert "Traceback" not in output
    failed = [line for line in output.splitlines() if "job failed" in line]
    assert failed, output[-3000:]
    assert "user=ghost-of-dev" in failed[0]
    assert "no such user" in failed[0]
    assert "drain run kind=financial-summary" in output
