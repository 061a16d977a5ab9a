"""vercel.json against Vercel's documented configuration, and the files the Python builder reads.

The key lists below are the documented ones (vercel.json reference and the `VercelConfig` /
`FunctionConfig` types of Vercel's config package, which mirror https://openapi.vercel.sh/
vercel.json). A key outside them is a typo Vercel would reject or silently ignore.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from api._http.routes.cron import PATH as CRON_PATH
from core.base.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

DOCUMENTED_TOP_LEVEL_KEYS = {
    "$schema",
    "alias",
    "build",
    "builds",
    "buildCommand",
    "bulkRedirectsPath",
    "bunVersion",
    "cleanUrls",
    "crons",
    "devCommand",
    "env",
    "fluid",
    "framework",
    "functionFailoverRegions",
    "functions",
    "git",
    "github",
    "headers",
    "ignoreCommand",
    "images",
    "installCommand",
    "name",
    "outputDirectory",
    "passiveRegions",
    "public",
    "redirects",
    "regions",
    "relatedProjects",
    "rewrites",
    "routes",
    "scope",
    "trailingSlash",
    "version",
    "wildcard",
}
DOCUMENTED_FUNCTION_KEYS = {
    "excludeFiles",
    "includeFiles",
    "maxDuration",
    "memory",
    "runtime",
    "supportsCancellation",
    "experimentalTriggers",
}
ENTRY = "api/index.py"
# What the Python builder always leaves out of a function bundle, whatever excludeFiles says.
BUILDER_DEFAULT_EXCLUDES = ("**/.venv/**", "**/__pycache__/**", "**/.mypy_cache/**", ".git/**")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "vercel.json").read_text())
    return data


def test_only_documented_keys(config: dict[str, Any]) -> None:
    assert set(config) <= DOCUMENTED_TOP_LEVEL_KEYS, set(config) - DOCUMENTED_TOP_LEVEL_KEYS
    # `functions` and `builds` cannot be combined (Vercel refuses the deployment).
    assert not ({"functions", "builds"} <= set(config))
    for pattern, function in config["functions"].items():
        assert len(pattern) <= 256
        assert not pattern.startswith("/")
        assert set(function) <= DOCUMENTED_FUNCTION_KEYS, set(function) - DOCUMENTED_FUNCTION_KEYS


def test_entry_function_fits_the_drain_budget(config: dict[str, Any]) -> None:
    function = config["functions"][ENTRY]
    duration = function["maxDuration"]
    assert isinstance(duration, int)
    assert 1 <= duration <= 900
    defaults = Settings.model_fields
    assert duration >= defaults["drain_max_budget_seconds"].default
    assert duration >= defaults["drain_budget_seconds"].default


def test_every_request_reaches_the_entry(config: dict[str, Any]) -> None:
    assert config["rewrites"] == [{"source": "/(.*)", "destination": "/api/index"}]


def test_cron_entry_targets_the_cron_route(config: dict[str, Any]) -> None:
    from api.index import app

    # The app's own route table, as it publishes it; Vercel Cron sends GET.
    paths = app.openapi()["paths"]
    [cron] = config["crons"]
    assert set(cron) == {"path", "schedule"}
    assert cron["path"] == CRON_PATH
    assert "get" in paths[cron["path"]]
    # Five fields; Hobby runs a cron at most once a day, so minute and hour are fixed numbers.
    minute, hour, *rest = cron["schedule"].split()
    assert len(rest) == 3
    assert minute.isdigit()
    assert hour.isdigit()


def test_entry_exports_the_fastapi_app() -> None:
    import api.index

    assert isinstance(api.index.app, FastAPI)


def _expand(pattern: str) -> list[str]:
    """Brace expansion, as the builder's glob library does it (one level is all we use)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [head + option + tail for option in match.group(1).split(",")]


def _excluded(path: str, patterns: list[str]) -> bool:
    # fnmatch's `*` crosses `/`, so `dir/**` covers everything below dir, as the glob does.
    return any(fnmatchcase(path, p) or fnmatchcase(path, p.removeprefix("**/")) for p in patterns)


def bundle(config: dict[str, Any]) -> list[str]:
    """The files the entry function would ship: the project tree less every exclusion."""
    patterns = [*BUILDER_DEFAULT_EXCLUDES, *_expand(config["functions"][ENTRY]["excludeFiles"])]
    files = []
    for directory, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            rel = (Path(directory) / name).relative_to(ROOT).as_posix()
            if not _excluded(rel, patterns):
                files.append(rel)
    return files


def test_bundle_excludes_tests_and_dev_files(config: dict[str, Any]) -> None:
    files = bundle(config)
    for prefix in ("tests/", ".venv/", ".tally/", "docs/", "scripts/", ".ci/"):
        assert not [f for f in files if f.startswith(prefix)], prefix
    # ...and keeps what the function runs, plus the migrations a deploy step may apply.
    for needed in (ENTRY, "api/_http/app.py", "core/drain/runner.py", "functions/__init__.py"):
        assert needed in files
    assert any(f.startswith("core/queue/lua/") for f in files)
    assert any(f.startswith("migrations/") for f in files)


def _requirement_lines(text: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def test_requirements_txt_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = _requirement_lines((ROOT / "requirements.txt").read_text())
    assert requirements == project["dependencies"], (
        "requirements.txt must list exactly pyproject.toml's [project] dependencies, in order"
    )


def test_readme_shows_the_vercel_json_in_use(config: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", readme, flags=re.DOTALL)
    shown = [json.loads(b) for b in blocks if '"functions"' in b and '"crons"' in b]
    assert shown == [{k: v for k, v in config.items() if k != "$schema"}]


def test_api_index_is_the_only_vercel_function() -> None:
    """Without a framework preset every `.py` under api/ becomes a function, except files and
    folders whose name starts with an underscore: keep the app's modules in `api/_http/`."""
    api = ROOT / "api"
    functions = {
        path.relative_to(ROOT).as_posix()
        for path in api.rglob("*.py")
        if not any(part.startswith(("_", ".")) for part in path.relative_to(api).parts)
    }
    assert functions == {ENTRY}
