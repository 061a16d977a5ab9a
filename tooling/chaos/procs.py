"""Drain processes (`scripts/drain.py`, exactly as an operator runs it) and waiting for events.

Every process a scenario starts belongs to a `ProcessPool`, whose exit kills and reaps whatever
is still running, so a failing scenario leaves no orphan behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tooling.chaos.env import DRAIN_SCRIPT

POLL_SECONDS = 0.01
REAP_SECONDS = 10.0


class Timeout(RuntimeError):
    """An awaited event did not happen before its deadline."""


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; Timeout naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_SECONDS)


def wait_for_clock(moment: float, timeout: float, what: str) -> None:
    """Wait until the wall clock reaches `moment` (a lease deadline, a retry's due time)."""
    wait_until(lambda: time.time() >= moment, timeout, what)


class DrainProcess:
    """One `scripts/drain.py --json` run, its output kept in files (no pipe can fill up)."""

    def __init__(self, env: Mapping[str, str], args: list[str], workdir: Path, name: str) -> None:
        self.name = name
        self._out = workdir / f"{name}.out"
        self._err = workdir / f"{name}.err"
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
                [sys.executable, str(DRAIN_SCRIPT), "--json", *args],
                cwd=workdir,  # no developer's .env is read from here
                env=dict(env),
                stdout=out,
                stderr=err,
            )
        self.killed = False

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.killed = True
        self.proc.wait(timeout=REAP_SECONDS)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise Timeout(f"{self.name} still running after {timeout:.0f}s") from exc

    @property
    def stdout(self) -> str:
        return self._out.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self._err.read_text(errors="replace")

    def stats(self) -> dict[str, Any]:
        """The run's figures (the JSON the CLI prints at the end); {} if it never finished."""
        text = self.stdout.strip()
        if self.killed or not text:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}


class ProcessPool:
    """Starts drain processes and guarantees they are all gone when the block ends."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.processes: list[DrainProcess] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="tally-chaos-")
        self.workdir = Path(self._tmp.name)

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> DrainProcess:
        name = f"drain-{len(self.processes):03d}"
        process = DrainProcess({**self.env, **(env or {})}, list(args), self.workdir, name)
        self.processes.append(process)
        return process

    def run(self, *args: str, timeout: float = 120.0) -> DrainProcess:
        """Start a drain and wait for it to finish."""
        process = self.start(*args)
        process.wait(timeout)
        return process

    def stderr(self) -> str:
        return "\n".join(p.stderr for p in self.processes)

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for process in self.processes:
                process.kill()
        finally:
            self._tmp.cleanup()


class DrainSlots:
    """Keeps `count` drain processes running at once (a new one replaces each that finishes,
    as overlapping cron ticks and CLI runs would) until `stop()`."""

    def __init__(self, pool: ProcessPool, count: int, *args: str) -> None:
        self._pool = pool
        self._args = args
        self._slots: list[DrainProcess | None] = [None] * count
        self.finished: list[DrainProcess] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drain-slots", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> DrainSlots:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                for i, process in enumerate(self._slots):
                    if process is not None and process.running:
                        continue
                    if process is not None:
                        self.finished.append(process)
                    self._slots[i] = self._pool.start(*self._args)
                self._stopping.wait(POLL_SECONDS)
        except BaseException as exc:  # noqa: BLE001 - reported by stop() in the caller's thread
            self.error = exc

    def stop(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Start no more; let the running ones finish; the figures of every finished run."""
        self._stopping.set()
        self._thread.join()
        for process in self._slots:
            if process is not None:
                process.wait(timeout)
                self.finished.append(process)
        self._slots = [None] * len(self._slots)
        if self.error is not None:
            raise self.error
        return [p.stats() for p in self.finished]
