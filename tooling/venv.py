"""Run a script under the project's virtual environment, whichever Python started it.

`python3 scripts/token.py alice` from a shell with no venv active would fail on the first
third-party import; instead the script starts again under `.venv/bin/python`, or, when there is
no `.venv` yet, says exactly what to run. Standard library only: it runs before anything else.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Imports every script needs; one missing means this interpreter is not the project's.
REQUIRED_MODULES = ("sqlmodel", "jwt", "upstash_redis", "pydantic_settings")
# The exit status of a script that cannot run here (argparse's for a usage error).
EXIT_NO_ENVIRONMENT = 2
# A command stopped by Ctrl-C exits like a shell reports it: 128 + SIGINT.
EXIT_INTERRUPTED = 130
# What `make dev` says when Ctrl-C stops it before it serves (nothing is left running).
INTERRUPTED_MESSAGE = "make dev: stopped by Ctrl-C before Tally was ready (exit 130)"


def _missing() -> list[str]:
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


def use_project_python(script: str, make_hint: str) -> None:
    """Return when the dependencies import; re-exec under `.venv`, or exit with what to run.

    `make_hint` is the Makefile way to run the same command, e.g. "make drain ARGS='--stats'".
    """
    missing = _missing()
    if not missing:
        return
    venv = ROOT / ".venv"
    python = venv / "bin" / "python"
    running_there = Path(sys.prefix).resolve() == venv.resolve()
    if python.exists() and not running_there:
        os.execv(python, [str(python), script, *sys.argv[1:]])  # noqa: S606 - our own venv
    name = Path(script).name
    sys.stderr.write(
        f"{name}: Tally's dependencies ({', '.join(missing)}) are not installed for "
        f"{sys.executable}.\n"
        f"Run `make venv` once in {ROOT} (it builds .venv), then run this again, "
        f"or use `{make_hint}`.\n"
    )
    raise SystemExit(EXIT_NO_ENVIRONMENT)


class StartUpInterrupts:
    """Ctrl-C while a command starts, remembered even where Python cannot raise it.

    A KeyboardInterrupt that lands in a weakref callback or a `__del__` during the imports is
    printed as "Exception ignored" and dropped, and start-up would carry on as if no key was
    pressed. This handler raises it as the default one does, records it, and keeps that one
    case quiet; `check()` raises it again at the next point where it can be handled.
    """

    def __init__(self) -> None:
        self.pressed = False

    def install(self) -> None:
        import signal

        signal.signal(signal.SIGINT, self._on_sigint)
        sys.unraisablehook = self._unraisable

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    @staticmethod
    def _unraisable(info: sys.UnraisableHookArgs) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):
            sys.__unraisablehook__(info)

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt


START_UP = StartUpInterrupts()
