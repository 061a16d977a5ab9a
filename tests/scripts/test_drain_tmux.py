"""The drain CLI in a real terminal (tmux), typed as a person would, with the system python3.

The keystrokes go through a pseudo-terminal: the live `--watch` line is redrawn in place, Ctrl-C
is a real SIGINT from the terminal to the foreground process group, and `$?` is what the shell saw.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.queue import Failure
from tests.conftest import IN_CI
from tests.support import World

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    """One private tmux server (its own socket) running one bash in the repository."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"tally-test-{uuid.uuid4().hex[:8]}"
        exports = [f"-e{name}={value}" for name, value in env.items()]
        self._tmux(
            "new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "-c", str(ROOT),
            *exports, "bash --norc --noprofile",
        )  # fmt: skip

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)
        self._tmux("send-keys", "-t", "t", "Enter")

    def ctrl_c(self) -> None:
        self._tmux("send-keys", "-t", "t", "C-c")

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t", "-S", "-200")

    def wait_for(self, pattern: str, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while not re.search(pattern, screen := self.screen()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never appeared:\n{screen}")
            time.sleep(0.2)
        return screen

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False)


@pytest.fixture
def tmux(world: World) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        message = "tmux is not installed (apt-get install tmux)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    # The test's database and queue, as `make dev`'s state file would supply them; PATH as a
    # person's shell has it, so `python3` is the system's and the script re-execs under .venv.
    names = [n for n in os.environ if n.startswith(("UPSTASH_", "QUEUE_", "DATABASE_", "TALLY_"))]
    env = {n: os.environ[n] for n in names} | {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    terminal = Tmux(env)
    yield terminal
    terminal.close()


def test_the_cli_as_typed_in_a_terminal(world: World, tmux: Tmux) -> None:
    queue = world.queue
    queue.enqueue("flaky", "waiting")
    queue.settle(queue.claim(1), failed=[Failure("flaky", "TimeoutError: slow database")])

    # Each step echoes its own marker: tmux's scrollback keeps the earlier steps' output after
    # `clear`, so waiting for a shared "rc=" could match the step before (seen flaky in CI).
    tmux.type("python3 scripts/drain.py --retrying; echo rc1=$?")
    screen = tmux.wait_for(r"rc1=\d")
    assert re.search(r"flaky\s+attempts=1\s+due ", screen), screen
    assert "attempt 1: TimeoutError: slow database" in screen
    assert "rc1=0" in screen

    tmux.type("clear; python3 scripts/drain.py --requeue-dead nobody; echo rc2=$?")
    screen = tmux.wait_for(r"rc2=\d")
    assert "not dead letters (left alone): nobody" in screen
    assert "rc2=1" in screen

    tmux.type("clear; python3 scripts/drain.py --watch --interval 0.3")
    tmux.wait_for("pending=1")
    queue.enqueue("newcomer")
    tmux.wait_for("pending=2")
    tmux.ctrl_c()
    tmux.type("echo rc3=$?")
    screen = tmux.wait_for(r"rc3=\d")
    assert "rc3=0" in screen, screen
    assert "Traceback" not in screen
    # Redrawn in place: one figures line on the screen, not one per refresh.
    assert screen.count("pending=") == 1, screen
