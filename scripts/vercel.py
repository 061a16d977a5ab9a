"""The pinned Vercel CLI, run from the repository root: `python scripts/vercel.py ARGS...`.

`make vercel ARGS='link'` is the same. The CLI is installed under .tally/ on first use (npm ci of
tooling/vercel/cli), and runs with uv and the Python that `.python-version` names on PATH, which
`vercel build` needs. Telemetry is off.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path, not the repository root.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import subprocess

try:
    from tooling.vercel.build import build_env
    from tooling.vercel.toolchain import ROOT, ToolMissing, vercel_cli
except ImportError as exc:
    sys.stderr.write(
        f"vercel: the development environment is not importable here ({exc.name or exc}).\n"
        "Use `make vercel ARGS='...'`, or `make venv` and `.venv/bin/python`.\n"
    )
    raise SystemExit(2) from None


def main(argv: list[str]) -> int:
    try:
        cli = vercel_cli(lambda line: print(f"vercel: {line}", file=sys.stderr))
        env = build_env(ROOT, keep_vercel=True)
    except ToolMissing as exc:
        print(f"vercel: {exc}", file=sys.stderr)
        return 1
    return subprocess.call([str(cli), *argv], cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
