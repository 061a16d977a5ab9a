"""Section 4: cold start, the time a fresh interpreter takes to import the Vercel entry.

Compared with a bare FastAPI app in the same run, so the interpreter's own start-up and the
machine's speed cancel out of the ratio. `-X importtime` names the modules that cost the most.

Both sides import from a runtime-only site: the packages of `requirements.txt` installed into
`.tally/bench/runtime-<hash>` (once, then reused), which is what a deployment ships. The
development environment also holds test tools that some libraries pick up when present (httpx
loads its command line with click and rich; PyJWT loads `cryptography`), and would overstate the
cold start. When that site cannot be built the development environment is used, and the
figures say so.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tooling.bench.measure import median, ratio
from tooling.bench.report import ColdStartFigures, ImportTime

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "import api.index"
BARE = "import fastapi; app = fastapi.FastAPI()"
TOP = 10
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S.*)$")


def runtime_site() -> Path | None:
    """The runtime dependencies alone, installed once per version of requirements.txt."""
    requirements = ROOT / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    site = ROOT / ".tally" / "bench" / f"runtime-{digest}"
    if (site / ".complete").exists():
        return site
    done = subprocess.run(  # noqa: S603 - pip of our own interpreter, our own requirements
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(site),
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    (site / ".complete").touch()
    return site


def _snippet(code: str, site: Path | None) -> str:
    if site is None:
        return code
    # -S (no site-packages) plus this path: the project and the runtime packages only.
    return f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(site)!r}]; {code}"


def _python(code: str, site: Path | None, *flags: str) -> subprocess.CompletedProcess[str]:
    isolation = ("-S",) if site is not None else ()
    return subprocess.run(  # noqa: S603 - our own interpreter with a fixed snippet
        [sys.executable, *isolation, *flags, "-c", _snippet(code, site)],
        cwd=ROOT,
        env=os.environ.copy(),  # the benchmark's settings: api.index builds the app at import
        capture_output=True,
        text=True,
        check=True,
    )


def _time(code: str, site: Path | None) -> float:
    started = time.perf_counter()
    _python(code, site)
    return time.perf_counter() - started


def import_times(code: str, site: Path | None = None) -> list[ImportTime]:
    """Every module `code` imports, with its own and cumulative import time (microseconds)."""
    stderr = _python(code, site, "-X", "importtime").stderr
    rows = []
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            own, cumulative, module = match.groups()
            rows.append(
                ImportTime(module=module.strip(), self_us=int(own), cumulative_us=int(cumulative))
            )
    return rows


def measure_cold_start(
    runs: int, echo: Callable[[str], None], use_runtime_site: bool = True
) -> ColdStartFigures:
    echo(f"cold start x{runs} (api.index and bare FastAPI, interleaved)")
    site = runtime_site() if use_runtime_site else None
    echo(f"  importing from {'the runtime-only site' if site else 'the development environment'}")
    # Untimed first runs write the bytecode caches; a deployed function ships them compiled.
    _time(ENTRY, site)
    _time(BARE, site)
    entry: list[float] = []
    bare: list[float] = []
    for run in range(runs):
        pair = ((ENTRY, entry), (BARE, bare))
        for code, samples in pair if run % 2 == 0 else reversed(pair):
            samples.append(_time(code, site))
    modules = import_times(ENTRY, site)
    by_cumulative = sorted(modules, key=lambda m: m["cumulative_us"], reverse=True)[:TOP]
    by_self = sorted(modules, key=lambda m: m["self_us"], reverse=True)[:TOP]
    return ColdStartFigures(
        runs=runs,
        environment="runtime-only site" if site else "development environment",
        api_index_seconds=median(entry),
        bare_fastapi_seconds=median(bare),
        ratio=ratio(median(entry), median(bare)),
        samples_api_index_seconds=entry,
        samples_bare_fastapi_seconds=bare,
        importtime_top_cumulative=by_cumulative,
        importtime_top_self=by_self,
    )
