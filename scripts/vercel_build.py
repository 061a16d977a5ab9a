"""The real Vercel build of Tally and its checks: `python scripts/vercel_build.py --help`.

Installs the pinned Vercel CLI (under .tally/, never globally), stages what `vercel deploy`
would upload, runs `vercel build` there against a local throwaway project (no account, no
network beyond the package registries) and checks `.vercel/output`: one Python function on
python3.12+, vercel.json's maxDuration and cron, no static files, nothing of the tests or
tooling in the function, every /api/... path reaching it unchanged, and the bundle's size.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path, not the repository root.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json

try:
    from tooling.vercel.build import BuildFailed, vercel_build
    from tooling.vercel.output import problems, read_output, summary
    from tooling.vercel.toolchain import ROOT, ToolMissing
except ImportError as exc:
    sys.stderr.write(
        f"vercel_build: the development environment is not importable here ({exc.name or exc}).\n"
        "Use `make vercel-build`, or `make venv` and `.venv/bin/python`.\n"
    )
    raise SystemExit(2) from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vercel_build.py", description=__doc__)
    parser.add_argument("--log", action="store_true", help="print the CLI's whole output")
    args = parser.parse_args(argv)

    def echo(line: str) -> None:
        print(f"vercel-build: {line}", file=sys.stderr, flush=True)

    try:
        build = vercel_build(echo)
    except (ToolMissing, BuildFailed) as exc:
        echo(str(exc))
        return 1
    if args.log:
        print(build.log)
    out = read_output(build.project)
    echo(f"built in {build.seconds:.0f} s: {build.output}")
    for line in summary(out):
        print(line)
    found = problems(out, json.loads((ROOT / "vercel.json").read_text()))
    for problem in found:
        print(f"PROBLEM: {problem}")
    print("vercel build: OK" if not found else f"vercel build: {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
