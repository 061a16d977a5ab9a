"""The tools the Vercel build needs: the pinned CLI, uv, and a Python the platform runs.

The CLI is installed with `npm ci` from the lock file next to this module into `.tally/vercel/`,
once per lock (never globally); uv comes with the development environment (pyproject's `dev`
extra); the interpreter is found as the Makefile finds it (tooling/find_python.sh).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CLI_SPEC = HERE / "cli"
FIND_PYTHON = ROOT / "tooling" / "find_python.sh"


class ToolMissing(RuntimeError):
    """A tool the build needs is not on this machine; the message says how to get it."""


def cache_dir(root: Path = ROOT) -> Path:
    return root / ".tally" / "vercel"


def cli_version() -> str:
    import json

    data = json.loads((CLI_SPEC / "package.json").read_text())
    version: str = data["dependencies"]["vercel"]
    return version


def vercel_cli(echo: Callable[[str], None], root: Path = ROOT) -> Path:
    """The pinned `vercel` executable, installed on first use."""
    spec = [CLI_SPEC / "package.json", CLI_SPEC / "package-lock.json"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in spec)).hexdigest()[:12]
    home = cache_dir(root) / f"cli-{cli_version()}-{digest}"
    binary = home / "node_modules" / ".bin" / "vercel"
    if (home / ".complete").exists() and binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ToolMissing(
            "the Vercel CLI needs Node.js 20+ and npm: install them (Debian: "
            "apt-get install nodejs npm) and run this again"
        )
    echo(f"installing Vercel CLI {cli_version()} into {home.relative_to(root)} (npm ci)")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    for path in spec:
        shutil.copy2(path, home / path.name)
    subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments, our own lock file
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=home, check=True
    )
    (home / ".complete").touch()
    return binary


def uv() -> Path:
    """uv from this environment (pyproject's `dev` extra), else from PATH."""
    here = Path(sys.executable).parent / "uv"
    if here.exists():
        return here
    found = shutil.which("uv")
    if found is None:
        raise ToolMissing("the Vercel Python builder installs with uv: `make venv` brings it")
    return Path(found)


def find_python(version: str | None = None) -> Path | None:
    """A CPython Vercel runs (3.12+; exactly `version`, e.g. "3.13", when given)."""
    args = [version] if version else []
    done = subprocess.run(  # noqa: S603 - our own script
        ["/bin/sh", str(FIND_PYTHON), *args], capture_output=True, text=True, check=False
    )
    path = done.stdout.strip()
    return Path(path) if done.returncode == 0 and path else None


def require_python(version: str) -> Path:
    found = find_python(version)
    if found is None:
        raise ToolMissing(
            f"Python {version} is needed (Vercel's runtime python{version}): "
            f"pyenv install {version}, or put python{version} on PATH"
        )
    return found
