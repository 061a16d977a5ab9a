"""`make venv`'s installs (the longest part of a first `make dev`) stop on Ctrl-C with one line.

pip, interrupted while it imports or installs, printed a traceback (issue 17). The Makefile runs
each install through `tooling/interruptible.py`, which keeps the terminal's Ctrl-C from the
command, stops it itself and says what happened in one line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tooling.venv import EXIT_INTERRUPTED

ROOT = Path(__file__).resolve().parents[2]
# A stand-in for pip: a Python program that dies with a traceback on SIGINT.
SLOW = "import time\nfor _ in range(600):\n    time.sleep(0.1)\n"


def run_and_interrupt(*command: str) -> tuple[int, str]:
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, signalled as a terminal does
    )
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    return proc.returncode, output


def test_bare_the_command_prints_a_traceback() -> None:
    _, output = run_and_interrupt(sys.executable, "-c", SLOW)
    assert "Traceback" in output  # what a newcomer saw from pip


def test_through_the_wrapper_ctrl_c_is_one_line_and_exit_130() -> None:
    wrapper = str(ROOT / "tooling" / "interruptible.py")
    code, output = run_and_interrupt(
        sys.executable, wrapper, "installing .venv", sys.executable, "-c", SLOW
    )
    assert code == EXIT_INTERRUPTED, output
    assert output.strip().splitlines() == [
        "make: stopped by Ctrl-C while installing .venv; run the same command again"
    ]


def test_the_wrapper_passes_the_command_s_status_and_output_through() -> None:
    wrapper = str(ROOT / "tooling" / "interruptible.py")
    done = subprocess.run(
        [sys.executable, wrapper, "x", sys.executable, "-c", "print('hi'); raise SystemExit(3)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout) == (3, "hi\n")


def test_the_makefile_installs_through_the_wrapper() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if re.search(r"-m pip install", line)]
    assert installs
    assert all("tooling/interruptible.py" in line for line in installs), installs
