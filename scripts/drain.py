"""Drain a Tally job queue from a terminal: `python scripts/drain.py --help`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path. Swap it for the repository root: the
# root makes `core` importable without an install, and scripts/token.py must not shadow the
# standard library's `token` module for everything this process imports.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tooling.venv import EXIT_INTERRUPTED, use_project_python

use_project_python(__file__, f"make drain ARGS='{' '.join(sys.argv[1:])}'")

try:
    from core.operator.cli import main
    from functions import get_kind
except KeyboardInterrupt:
    # Ctrl-C while the imports run: no traceback for that.
    raise SystemExit(EXIT_INTERRUPTED) from None

if __name__ == "__main__":
    status = main(get_kind)
    # The work is done (or handed back): a Ctrl-C now would only kill the exit itself, with no
    # message, once Python has put the default SIGINT handler back while finalising.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(status)
