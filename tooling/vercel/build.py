"""`vercel build` on what a deployment uploads, with the pinned CLI and no Vercel account."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tooling.vercel.stage import stage
from tooling.vercel.toolchain import ROOT, cache_dir, require_python, uv, vercel_cli

BUILD_TIMEOUT_SECONDS = 900


class BuildFailed(RuntimeError):
    """`vercel build` exited non-zero; the message ends with its output."""


@dataclass(frozen=True)
class Build:
    project: Path  # the staged upload; `.vercel/output` is inside it
    log: str
    seconds: float

    @property
    def output(self) -> Path:
        return self.project / ".vercel" / "output"


def python_version(root: Path) -> str:
    """The version `.python-version` asks for (what the builder reads first)."""
    path = root / ".python-version"
    if not path.exists():
        raise BuildFailed(".python-version is missing: the builder would fall back to its default")
    return path.read_text().split()[0]


def build_env(root: Path, keep_vercel: bool = False) -> dict[str, str]:
    """This process's environment for the CLI, with uv and the interpreter `.python-version`
    names first on PATH: the builder looks for both there (without the Python it would try to
    download one). The local build drops VERCEL_* variables (a token, a team) unless
    `keep_vercel`: it must not depend on an account."""
    python = require_python(python_version(root))
    path = os.pathsep.join(
        [str(uv().parent), str(python.parent), os.environ.get("PATH", "/usr/bin:/bin")]
    )
    drop = ("VIRTUAL_ENV",) if keep_vercel else ("VERCEL", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PATH=path, VERCEL_TELEMETRY_DISABLED="1")
    return env


def vercel_build(
    echo: Callable[[str], None],
    source: Path = ROOT,
    project: Path | None = None,
    env: dict[str, str] | None = None,
) -> Build:
    """Stage `source`'s upload (default: Tally) in `project` and build it there.

    `env` adds build-time variables, as a project's environment variables would.

    The CLI and the default project folder live in Tally's `.tally/vercel/` whatever `source`
    is (the benchmark builds a bare FastAPI app the same way).
    """
    project = project or cache_dir() / "project"
    cli = vercel_cli(echo)
    # CI: no prompt, no spinner in the log.
    cli_env = {**build_env(source), "CI": "1", **(env or {})}
    files = stage(source, project)
    echo(f"staged {len(files)} files (what `vercel deploy` uploads) in {project}")
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - the pinned CLI, fixed arguments
        [str(cli), "build", "--yes"],
        cwd=project,
        env=cli_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise BuildFailed(f"vercel build exited with {done.returncode}:\n{log}")
    return Build(project=project, log=log, seconds=time.perf_counter() - started)
