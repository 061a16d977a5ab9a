"""Section 9: the built Vercel function, from interpreter start to its first answered request.

Tally and a bare FastAPI app (tooling/bench/bare_app) are built by the same `vercel build`
(tooling/vercel, the pinned CLI on what a deployment uploads), copied out of `.vercel/output`
and started by the runtime's interpreter as the platform starts them: the handler module
imported from the copied files, then one `GET /api/health` through `vc_handler`. Tally's answer
checks its database and queue (the benchmark's own), as a first request after a cold start does.
Starts alternate between the two; the figure is the ratio of the medians.

The builder ships no bytecode unless the build sets `VERCEL_PYTHON_COMPILEALL=1`, so a function
compiles every module it imports on each cold start: both sides are measured that way (what a
deployment gets by default) and, with `--built-bytecode`, precompiled as well.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from core.base.settings import environment_names
from tooling.bench.measure import median, ratio
from tooling.bench.report import BuiltFunctionFigures, BuiltSide, Unavailable
from tooling.vercel.build import BuildFailed, vercel_build
from tooling.vercel.built_function import copy_function, serve
from tooling.vercel.output import Output, read_output
from tooling.vercel.toolchain import ROOT, ToolMissing, cache_dir

BARE_APP = Path(__file__).resolve().parent / "bare_app"
COMPILE_ALL = {"VERCEL_PYTHON_COMPILEALL": "1"}
Echo = Callable[[str], None]


def _first_answer(folder: Path, output: Output, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawning the interpreter to the import done, and to the first answer."""
    [function] = output.functions
    with serve(folder, function, env) as instance:
        answer = instance.call("GET", "/api/health")
        answered = time.monotonic()
        if answer.status != 200:
            raise RuntimeError(f"health answered {answer.status}: {answer.body[:300]!r}")
        return instance.imported_at - instance.started_at, answered - instance.started_at


def _built(echo: Echo, source: Path, name: str, bytecode: bool) -> tuple[Output, Path]:
    project = cache_dir() / "bench" / f"{name}{'-pyc' if bytecode else ''}"
    build = vercel_build(
        echo, source=source, project=project, env=COMPILE_ALL if bytecode else None
    )
    output = read_output(build.project)
    [function] = output.functions
    folder = copy_function(output, function, project.parent / f"{project.name}-task")
    return output, folder


def _side(output: Output, imports: list[float], answers: list[float]) -> BuiltSide:
    [function] = output.functions
    return BuiltSide(
        first_answer_seconds=median(answers),
        import_seconds=median(imports),
        bundle_bytes=output.bundle_bytes(function),
        pyc_files=sum(1 for p in function.file_map if p.endswith(".pyc")),
        samples_first_answer_seconds=answers,
    )


def measure_built_function(
    runs: int, echo: Echo, bytecode: bool = False
) -> BuiltFunctionFigures | Unavailable:
    what = "precompiled bytecode" if bytecode else "no bytecode, as built by default"
    echo(f"built function x{runs} (Tally and bare FastAPI, `vercel build`, {what})")
    if shutil.which("node") is None or shutil.which("npm") is None:
        return Unavailable(available=False, reason="needs Node.js and npm for the Vercel CLI")
    try:
        tally, tally_folder = _built(echo, ROOT, "tally", bytecode)
        bare, bare_folder = _built(echo, BARE_APP, "bare", bytecode)
    except (ToolMissing, BuildFailed) as exc:
        return Unavailable(available=False, reason=str(exc).splitlines()[0])
    # The benchmark's database and queue (BenchEnvironment set them in this process).
    env = {name: os.environ[name] for name in environment_names() if name in os.environ}
    samples: dict[str, tuple[list[float], list[float]]] = {"tally": ([], []), "bare": ([], [])}
    sides = {"tally": (tally_folder, tally, env), "bare": (bare_folder, bare, {})}
    for run in range(runs + 1):
        order = ["tally", "bare"] if run % 2 == 0 else ["bare", "tally"]
        for name in order:
            folder, output, side_env = sides[name]
            imported, answered = _first_answer(folder, output, side_env)
            if run > 0:  # the first pair warms the page cache only
                samples[name][0].append(imported)
                samples[name][1].append(answered)
    tally_side = _side(tally, *samples["tally"])
    bare_side = _side(bare, *samples["bare"])
    return BuiltFunctionFigures(
        available=True,
        runs=runs,
        bytecode=bytecode,
        runtime=tally.functions[0].runtime,
        tally=tally_side,
        bare=bare_side,
        ratio=ratio(tally_side["first_answer_seconds"], bare_side["first_answer_seconds"]),
    )
