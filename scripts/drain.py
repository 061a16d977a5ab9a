"""Drain a Tally job queue from a terminal: `python scripts/drain.py --help`."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path. Swap it for the repository root: the
# root makes `core` importable without an install, and scripts/token.py must not shadow the
# standard library's `token` module for everything this process imports.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

try:
    from core.operator.cli import main
    from functions import get_kind
except ImportError as exc:
    sys.stderr.write(
        f"drain: Tally's dependencies are not importable here ({exc.name or exc}).\n"
        "Use the project's environment: `make drain ARGS='--stats'`, or\n"
        "`make venv` (builds .venv), then `source .venv/bin/activate` and run this again.\n"
    )
    raise SystemExit(2) from None

if __name__ == "__main__":
    raise SystemExit(main(get_kind))
