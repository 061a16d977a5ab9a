"""Section 4: cold start, the time a fresh interpreter takes to import the Vercel entry.

Compared with a bare FastAPI app in the same run, so the interpreter's own start-up and the
machine's speed cancel out of the ratio. `-X importtime` names the modules that cost the most.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.bench.figures import ColdStartFigures, ImportTime
from core.bench.measure import median, ratio

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "import api.index"
BARE = "import fastapi; app = fastapi.FastAPI()"
TOP = 10
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S.*)$")


def _python(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter with a fixed snippet
        [sys.executable, *flags, "-c", code],
        cwd=ROOT,
        env=os.environ.copy(),  # the benchmark's settings: api.index builds the app at import
        capture_output=True,
        text=True,
        check=True,
    )


def _time(code: str) -> float:
    started = time.perf_counter()
    _python(code)
    return time.perf_counter() - started


def import_times(code: str) -> list[ImportTime]:
    """Every module `code` imports, with its own and cumulative import time (microseconds)."""
    stderr = _python(code, "-X", "importtime").stderr
    rows = []
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            own, cumulative, module = match.groups()
            rows.append(
                ImportTime(module=module.strip(), self_us=int(own), cumulative_us=int(cumulative))
            )
    return rows


def measure_cold_start(runs: int, echo: Callable[[str], None]) -> ColdStartFigures:
    echo(f"cold start x{runs} (api.index and bare FastAPI, interleaved)")
    # Untimed first runs write the bytecode caches; a deployed function ships them compiled.
    _time(ENTRY)
    _time(BARE)
    entry: list[float] = []
    bare: list[float] = []
    for run in range(runs):
        pair = ((ENTRY, entry), (BARE, bare))
        for code, samples in pair if run % 2 == 0 else reversed(pair):
            samples.append(_time(code))
    modules = import_times(ENTRY)
    by_cumulative = sorted(modules, key=lambda m: m["cumulative_us"], reverse=True)[:TOP]
    by_self = sorted(modules, key=lambda m: m["self_us"], reverse=True)[:TOP]
    return ColdStartFigures(
        runs=runs,
        api_index_seconds=median(entry),
        bare_fastapi_seconds=median(bare),
        ratio=ratio(median(entry), median(bare)),
        samples_api_index_seconds=entry,
        samples_bare_fastapi_seconds=bare,
        importtime_top_cumulative=by_cumulative,
        importtime_top_self=by_self,
    )
