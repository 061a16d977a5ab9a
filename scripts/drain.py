"""Drain a Tally job queue from a terminal: `python scripts/drain.py --help`."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path. Swap it for the repository root: the
# root makes `core` importable without an install, and scripts/token.py must not shadow the
# standard library's `token` module for everything this process imports.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tooling.venv import use_project_python

use_project_python(__file__, f"make drain ARGS='{' '.join(sys.argv[1:])}'")

from core.operator.cli import main
from functions import get_kind

if __name__ == "__main__":
    raise SystemExit(main(get_kind))
