"""What `vercel build` wrote (`.vercel/output`), and the checks a deployable Tally passes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooling.vercel.routes import resolve
from tooling.vercel.stage import user_ignores

ENTRY = "api/index.py"
HANDLER = "vc__handler__python.vc_handler"
MAX_BUNDLE_BYTES = 60 * 1000 * 1000
# Top-level folders and files of the repository that only development uses.
NOT_SHIPPED = (
    "tests",
    "tooling",
    "scripts",
    "docs",
    ".ci",
    ".tally",
    ".venv",
    "build",
    "README.md",
    "Makefile",
    ".env",
)
# /api/... paths whose routing is checked: the function must receive each one as it is.
API_PATHS = (
    "/api/health",
    "/api/transactions",
    "/api/transactions/42",
    "/api/transactions/upload",
    "/api/summary",
    "/api/statements",
    "/api/notifications",
    "/api/cron/process-financial-summary-queue",
    "/api/admin",
    "/api/admin/queue",
    "/api/admin/static/operator.js",
    "/api/index",
)
# Written into the project by the builder itself and never read by the function: .vercelignore
# keeps a stale one from a local build out of uploads (the builder installs a lock it finds
# with --frozen), so a prebuilt deploy dropping it is intended.
BUILDER_WRITTEN = {"uv.lock"}
_RUNTIME = re.compile(r"^python3\.(\d+)$")


@dataclass(frozen=True)
class Function:
    name: str  # as routes name it: the path under functions/ without `.func`
    folder: Path
    config: dict[str, Any]  # .vc-config.json
    file_map: dict[str, str]  # bundle path -> source, relative to the built project

    @property
    def runtime(self) -> str:
        return str(self.config.get("runtime", ""))

    def own_files(self) -> list[Path]:
        """Files inside the .func folder itself (the handler trampoline), config excluded."""
        return [p for p in self.folder.rglob("*") if p.is_file() and p.name != ".vc-config.json"]


@dataclass(frozen=True)
class Output:
    project: Path
    config: dict[str, Any]  # config.json
    functions: list[Function]
    static: list[str]  # files under static/, relative

    def bundle_bytes(self, function: Function) -> int:
        sources = sum((self.project / s).stat().st_size for s in function.file_map.values())
        return sources + sum(p.stat().st_size for p in function.own_files())

    def route(self, path: str) -> tuple[str | None, str | None]:
        names = {f.name for f in self.functions}
        found = resolve(self.config.get("routes", []), path, names, set(self.static))
        return found.function, found.path


def read_output(project: Path) -> Output:
    root = project / ".vercel" / "output"
    functions = []
    for vc_config in sorted((root / "functions").rglob(".vc-config.json")):
        folder = vc_config.parent
        name = folder.relative_to(root / "functions").as_posix().removesuffix(".func")
        config = json.loads(vc_config.read_text())
        file_map = config.pop("filePathMap", {})
        functions.append(Function(name=name, folder=folder, config=config, file_map=file_map))
    static_root = root / "static"
    static = (
        sorted(p.relative_to(static_root).as_posix() for p in static_root.rglob("*") if p.is_file())
        if static_root.exists()
        else []
    )
    config = json.loads((root / "config.json").read_text())
    return Output(project=project, config=config, functions=functions, static=static)


def python_minor(runtime: str) -> int | None:
    match = _RUNTIME.match(runtime)
    return int(match.group(1)) if match else None


def problems(out: Output, vercel_json: dict[str, Any]) -> list[str]:
    """Everything that would make this build a broken or leaky deployment (empty: good)."""
    found: list[str] = []
    if len(out.functions) != 1:
        names = [f.name for f in out.functions]
        return [f"expected exactly one Python function, the build made {len(names)}: {names}"]
    [function] = out.functions
    minor = python_minor(function.runtime)
    if minor is None or minor < 12:
        found.append(f"runtime {function.runtime!r}: Vercel runs python3.12 and newer only")
    if function.config.get("handler") != HANDLER:
        found.append(f"handler {function.config.get('handler')!r}, expected {HANDLER}")
    wanted = vercel_json.get("functions", {}).get(ENTRY, {}).get("maxDuration")
    if function.config.get("maxDuration") != wanted:
        found.append(f"maxDuration {function.config.get('maxDuration')}, vercel.json says {wanted}")
    if out.config.get("crons") != vercel_json.get("crons"):
        found.append(
            f"crons {out.config.get('crons')}, vercel.json says {vercel_json.get('crons')}"
        )
    if out.static:
        found.append(f"{len(out.static)} static files would be public, e.g. {out.static[:5]}")
    found += _file_map_problems(out, function)
    found += _routing_problems(out, function)
    size = out.bundle_bytes(function)
    if size > MAX_BUNDLE_BYTES:
        found.append(f"bundle {size / 1e6:.1f} MB, more than {MAX_BUNDLE_BYTES / 1e6:.0f} MB")
    return found


def _file_map_problems(out: Output, function: Function) -> list[str]:
    found = []
    bundle = function.file_map
    if ENTRY not in bundle:
        found.append(f"{ENTRY} is not in the function")
    for name in NOT_SHIPPED:
        shipped = [p for p in bundle if p == name or p.startswith(f"{name}/")]
        if shipped:
            found.append(f"the function ships {len(shipped)} files of {name}, e.g. {shipped[:3]}")
    leaked = [p for p in bundle if p.endswith(".egg-info") or ".egg-info/" in p]
    if leaked:
        found.append(f"the function ships build metadata: {leaked[:3]}")
    # `vercel deploy --prebuilt` uploads a function's files unless .vercelignore matches them.
    ignores = user_ignores(out.project)
    dropped = [s for s in bundle.values() if ignores.match_file(s) and s not in BUILDER_WRITTEN]
    if dropped:
        found.append(
            f".vercelignore would drop {len(dropped)} of the function's files from a "
            f"prebuilt deploy, e.g. {dropped[:3]}"
        )
    return found


def _routing_problems(out: Output, function: Function) -> list[str]:
    found = []
    for path in API_PATHS:
        target, seen = out.route(path)
        if target != function.name or seen != path:
            found.append(f"GET {path} reaches {target!r} as {seen!r}, not {function.name!r} as is")
    return found


def summary(out: Output) -> list[str]:
    lines = [f"functions: {len(out.functions)}"]
    for function in out.functions:
        size = out.bundle_bytes(function)
        vendored = sum(1 for p in function.file_map if p.startswith("_vendor/"))
        lines += [
            f"  {function.name}: {function.runtime}, handler {function.config.get('handler')}, "
            f"maxDuration {function.config.get('maxDuration')}",
            f"  bundle: {size / 1e6:.1f} MB uncompressed, {len(function.file_map)} files "
            f"({vendored} of them dependencies)",
        ]
    lines.append(f"static files: {len(out.static)}")
    crons = out.config.get("crons", [])
    lines.append(f"crons: {', '.join(c['path'] + ' ' + repr(c['schedule']) for c in crons) or 0}")
    return lines
