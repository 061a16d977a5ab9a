"""`make dev`: the whole stack on this machine with embedded defaults (see tooling/devserver.py).

Migrates the local SQLite file, starts an embedded Upstash (kept on disk), serves the API on
:8000, writes .tally/dev.env for every other command and prints ready-to-paste lines.
`make dev ARGS='--help'` lists the options (ports, state folder). Ctrl-C stops everything.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts scripts/ first on the path; the repository root belongs there instead (and
# scripts/token.py must not shadow the standard library's `token` module).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tooling.venv import EXIT_INTERRUPTED, INTERRUPTED_MESSAGE, START_UP, use_project_python

START_UP.install()
try:
    use_project_python(__file__, "make dev")
    from tooling.devserver import main

    START_UP.check()
except KeyboardInterrupt:
    # Ctrl-C while the imports run (a second or two on a cold disk): one line, no traceback.
    print(INTERRUPTED_MESSAGE, file=sys.stderr, flush=True)
    raise SystemExit(EXIT_INTERRUPTED) from None

if __name__ == "__main__":
    raise SystemExit(main())
