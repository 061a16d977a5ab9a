"""The routing model against the routes real builds wrote (vercel 58.10, @vercel/python 6.56).

Three `config.json` route lists, copied from `.vercel/output` of builds of this repository: the
FastAPI preset as vercel.json has it now, the preset with the catch-all rewrite to /api/index
that vercel.json once had, and no preset ("framework": null) with that rewrite.
"""

from __future__ import annotations

from typing import Any

import pytest

from tooling.vercel.routes import Resolved, resolve

PRESET: list[dict[str, Any]] = [
    {"handle": "error"},
    {"status": 404, "src": "^(?!/api).*$", "dest": "/404.html"},
    {"handle": "filesystem"},
    {
        "src": "/(.*)",
        "dest": "/fastapi",
        "transforms": [{"type": "request.path", "op": "set", "args": "/$1"}],
    },
]
PRESET_WITH_REWRITE: list[dict[str, Any]] = [
    {"handle": "filesystem"},
    {"src": "^(?:/(.*))$", "dest": "/api/index", "check": True},
    {
        "src": "/(.*)",
        "dest": "/fastapi",
        "transforms": [{"type": "request.path", "op": "set", "args": "/$1"}],
    },
    {"handle": "error"},
    {"status": 404, "src": "^(?!/api).*$", "dest": "/404.html"},
]
NO_PRESET: list[dict[str, Any]] = [
    {"handle": "filesystem"},
    {"src": "^(?:/(.*))$", "dest": "/api/index", "check": True},
    {"src": "^/api(/.*)?$", "status": 404},
    {"handle": "error"},
    {"status": 404, "src": "^(?!/api).*$", "dest": "/404.html"},
    {"handle": "miss"},
    {"src": "^/api/(.+)(?:\\.(?:py))$", "dest": "/api/$1", "check": True},
]


@pytest.mark.parametrize("path", ["/api/health", "/api/transactions/42", "/", "/docs"])
def test_the_preset_hands_every_path_over_unchanged(path: str) -> None:
    assert resolve(PRESET, path, {"fastapi"}) == Resolved(function="fastapi", path=path)


def test_a_rewrite_under_the_preset_hands_over_its_destination() -> None:
    # What made every route 404: the app saw /api/index whatever was asked.
    found = resolve(PRESET_WITH_REWRITE, "/api/health", {"fastapi"})
    assert found == Resolved(function="fastapi", path="/api/index")


def test_without_a_preset_the_rewrite_reaches_the_file_function_with_the_request_path() -> None:
    found = resolve(NO_PRESET, "/api/summary", {"api/index"})
    assert found == Resolved(function="api/index", path="/api/summary")


def test_without_a_preset_static_files_win_over_the_rewrite() -> None:
    # The filesystem phase comes first: core/settings.py is served as a public file.
    found = resolve(NO_PRESET, "/core/settings.py", {"api/index"}, {"core/settings.py"})
    assert found == Resolved(function=None, path="/core/settings.py")


def test_a_path_nothing_serves_is_404() -> None:
    assert resolve(PRESET, "/api/x", set()).status == 404
    assert resolve([{"src": "^/api(/.*)?$", "status": 404}], "/api/x", {"f"}).status == 404
