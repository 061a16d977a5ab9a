"""vercel.json against Vercel's documented configuration, and the files the Python builder reads.

Fast checks with no Node.js; tests/test_vercel_function.py runs the real build.

The key lists below are the documented ones (vercel.json reference and the `VercelConfig` /
`FunctionConfig` types of Vercel's config package, which mirror https://openapi.vercel.sh/
vercel.json). A key outside them is a typo Vercel would reject or silently ignore.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from api._http.routes.cron import PATH as CRON_PATH
from core.base.settings import Settings
from tooling.vercel.stage import upload_files

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


def test_max_duration_and_the_longest_drain_agree(config: dict[str, Any]) -> None:
    """A 202 cron run drains after its answer for up to DRAIN_MAX_BUDGET_SECONDS: the function
    must live that long plus a margin for its cold start and last settle, and no longer than
    Hobby's most under Fluid compute."""
    duration = config["functions"][ENTRY]["maxDuration"]
    longest = Settings.model_fields["drain_max_budget_seconds"].default
    assert (duration, longest) == (300, 280)
    assert duration - longest >= 15


def test_the_fastapi_preset_and_no_path_changing_route(config: dict[str, Any]) -> None:
    # "framework": null publishes the repository as static files; and under the preset a
    # rewrite to /api/index hands every request to the app with that path (all 404).
    assert config["framework"] == "fastapi"
    assert not {"rewrites", "routes", "builds"} & set(config)
    # The preset ignores excludeFiles: .vercelignore keeps files out (test below).
    assert "excludeFiles" not in config["functions"][ENTRY]


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


def test_entry_assigns_app_at_top_level() -> None:
    """The builder finds the ASGI app by reading api/index.py: only a plain top-level assignment
    counts (one inside try/with/if is invisible to it, and no function is built)."""
    tree = ast.parse((ROOT / ENTRY).read_text())
    assigned = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    assert "app" in assigned


def test_upload_holds_the_app_and_nothing_of_development(tmp_path: Path) -> None:
    # A developer's checkout: local state and secrets beside the sources.
    for name in (".env", ".tally/tally.db", ".venv/bin/python", "build/lib/x.py", "uv.lock"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    for rel in upload_files(ROOT):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((ROOT / rel).read_bytes())
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "test_x.py").write_text("x")
    (tmp_path / "tally.egg-info").mkdir(exist_ok=True)
    (tmp_path / "tally.egg-info" / "PKG-INFO").write_text("x")
    files = upload_files(tmp_path)
    for top in ("tests", "tooling", "scripts", "docs", ".ci", ".tally", ".venv", "build"):
        assert not [f for f in files if f.startswith(f"{top}/")], top
    for name in (".env", "uv.lock", "README.md", "Makefile", "tally.egg-info/PKG-INFO"):
        assert name not in files
    # ...and keeps what the function runs and what the builder reads.
    for needed in (ENTRY, "api/_http/app.py", "core/drain/runner.py", "functions/__init__.py"):
        assert needed in files
    for needed in ("pyproject.toml", ".python-version", "vercel.json"):
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
