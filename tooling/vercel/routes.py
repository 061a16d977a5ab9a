"""Which function a request reaches, and the path it sees, from a Build Output `config.json`.

A small model of the platform's routing, enough for the routes the builders write. `handle`
entries split the list into phases: the routes before the first one run first, then the
filesystem (static files and functions) is checked, then the routes of the `filesystem` phase
run; the `error`, `miss`, `hit` and other phases only adjust answers, so a path nothing served
ends as 404. A route matches its `src` (case-insensitive) against the current path; `dest` fills
`$n` groups; `check` (or `continue`) goes on with the rewritten path when it names no output;
`status` answers; a `request.path` transform sets what the function receives, and a function
without one sees the request's own path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

_GROUP = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Resolved:
    function: str | None  # the function's name in .vercel/output/functions (no .func)
    path: str | None  # the path the function receives
    status: int | None = None  # a route's own answer (404 when nothing serves the path)


def _fill(template: str, match: re.Match[str]) -> str:
    return _GROUP.sub(lambda m: match.group(int(m.group(1))) or "", template)


def _seen(route: Mapping[str, Any], match: re.Match[str], original: str) -> str:
    for transform in route.get("transforms", []):
        if transform.get("type") == "request.path" and transform.get("op") == "set":
            return _fill(str(transform["args"]), match)
    return original


def _phases(routes: Sequence[Mapping[str, Any]]) -> dict[str | None, list[Mapping[str, Any]]]:
    phases: dict[str | None, list[Mapping[str, Any]]] = {None: []}
    phase: str | None = None
    for route in routes:
        if "handle" in route:
            phase = str(route["handle"])
            phases.setdefault(phase, [])
        else:
            phases[phase].append(route)
    return phases


def resolve(
    routes: Sequence[Mapping[str, Any]],
    path: str,
    functions: AbstractSet[str],
    static: AbstractSet[str] = frozenset(),
) -> Resolved:
    """Follow `routes` for a GET of `path` (no query string)."""
    phases = _phases(routes)
    current = path

    def output(at: str) -> str | None:
        name = at.strip("/")
        return name if name in functions or name in static else None

    def served(name: str, seen: str) -> Resolved:
        return Resolved(function=name if name in functions else None, path=seen)

    for phase in (None, "filesystem"):
        if phase == "filesystem":
            hit = output(current)
            if hit is not None:
                return served(hit, path)
        for route in phases.get(phase, []):
            match = re.fullmatch(route["src"], current, flags=re.IGNORECASE)
            if match is None:
                continue
            if "dest" not in route:
                if "status" in route:
                    return Resolved(function=None, path=None, status=int(route["status"]))
                continue  # headers only
            dest = _fill(route["dest"], match).split("?", 1)[0]
            target = output(dest)
            if target is not None:
                return served(target, _seen(route, match, path))
            if route.get("check") or route.get("continue"):
                current = dest
                continue
            return Resolved(function=None, path=None, status=404)
    return Resolved(function=None, path=None, status=404)
