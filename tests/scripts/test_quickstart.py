"""The README's quick start, run as a script: `make dev` in the background, then every line of
the README's second-terminal block, as written, with nothing exported.

The commands come from the README itself (the fenced block after the `quickstart: second
terminal` marker), so the two cannot drift. The test's only changes are its isolation: its own
ports in place of 8000 and its own state folder (TALLY_STATE_DIR, as `make dev` documents);
`curl` fails on an HTTP error status here, so a 401 or a 503 is a failure, not a printed body.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.scripts.test_dev import clean_env, free_port

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- quickstart: second terminal -->"
README_PORT = ":8000"
# Every command runs under bash with this first: pipelines fail as a whole, and curl says why
# an answer was an error (its body) and fails instead of printing it.
PRELUDE = 'set -o pipefail\ncurl() { command curl --silent --show-error --fail-with-body "$@"; }\n'


def second_terminal_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index(MARKER) + len(MARKER) :]
    block = re.match(r"\s*```sh\n(.*?)\n```", after, re.DOTALL)
    assert block is not None, "the marker must be followed by a ```sh block"
    return [
        line.strip()
        for line in block.group(1).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_the_readme_block_names_every_second_terminal_step() -> None:
    commands = "\n".join(second_terminal_commands())
    for step in (
        "/api/health",
        "scripts/token.py alice",
        "/api/transactions",
        "make drain ARGS='--stats'",
        "scripts/token.py --cron-secret",
        "/api/cron/process-financial-summary-queue",
        "/api/summary",
        "/api/admin/queue",
        "/api/admin |",
    ):
        assert step in commands, step
    assert "export" not in commands
    assert "$CRON_SECRET" not in commands


def wait_serving(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 180  # a first `make dev` may build the venv
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"make dev exited with {proc.returncode}:\n{output}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("make dev did not serve")


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None,
    reason="the quick start needs curl and bash",
)
def test_the_quick_start_works_as_written(tmp_path: Path) -> None:
    port, upstash_port, state = free_port(), free_port(), tmp_path / "state"
    env = clean_env(state)
    env.pop("MAKEFLAGS", None)
    proc = subprocess.Popen(
        ["make", "-s", "dev", f"ARGS=--port {port} --upstash-port {upstash_port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    outputs: dict[str, str] = {}
    try:
        wait_serving(proc, port)
        for command in second_terminal_commands():
            line = command.replace(README_PORT, f":{port}")
            done = subprocess.run(
                ["bash", "-c", PRELUDE + line],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            outputs[command] = done.stdout
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        server_output, _ = proc.communicate(timeout=60)
    assert "Traceback" not in server_output, server_output
    health = next(out for command, out in outputs.items() if command.endswith("/api/health"))
    assert json.loads(health)["status"] == "ok"
    token = next(out for command, out in outputs.items() if command.endswith("token.py alice"))
    assert token.count(".") == 2  # a JWT
    stats = next(out for command, out in outputs.items() if "make drain" in command)
    assert "pending" in stats
    summary = next(out for command, out in outputs.items() if command.endswith("/api/summary"))
    assert json.loads(summary)["user_id"] == "alice"
    page = next(out for command, out in outputs.items() if "/api/admin |" in command)
    assert "<title>Tally queue" in page
