"""Run the reliability scenarios at larger sizes: `python scripts/chaos.py --help`."""

from __future__ import annotations

import sys
from pathlib import Path

# As in scripts/drain.py: the repository root first, so `core` imports without an install.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tooling.chaos.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
