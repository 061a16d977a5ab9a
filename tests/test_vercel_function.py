"""The real `vercel build` of this checkout, and the function it builds serving real requests.

One build per test session (the pinned CLI on exactly what `vercel deploy` uploads, see
tooling/vercel). Then the checks a deployment depends on, each named after what broke when it
was missing: no function at all (the builder did not find `app`), a runtime Vercel does not run,
the repository published as static files, every route handed the path `/api/index`, tests and
tooling in the bundle. Finally the function itself, copied out of `.vercel/output` and started
by its runtime's interpreter, answers health, a write, the cron drain and the summary against
this test's Postgres database and queue, and serves the operator page with its static files.

Needs Node.js and npm (the CLI) and the Python of the function's runtime: skipped without them
on a developer's machine, failed under CI=true.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.base.auth import mint_token
from core.base.settings import get_settings
from core.operator.page import STATIC_DIR
from tests.conftest import CRON_SECRET, IN_CI
from tooling.vercel.build import Build, BuildFailed, vercel_build
from tooling.vercel.built_function import ServedFunction, copy_function, serve
from tooling.vercel.output import (
    API_PATHS,
    ENTRY,
    MAX_BUNDLE_BYTES,
    NOT_SHIPPED,
    Function,
    Output,
    problems,
    python_minor,
    read_output,
)
from tooling.vercel.toolchain import ROOT, ToolMissing, find_python

CRON = "/api/cron/process-financial-summary-queue"
# One `vercel build` (a minute, more on a loaded machine) and a cold start without bytecode.
pytestmark = pytest.mark.timeout(900)


def _missing(why: str) -> None:
    if IN_CI:
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def build() -> Build:
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("the Vercel CLI needs Node.js and npm, which this machine does not have")
    try:
        return vercel_build(lambda line: print(f"vercel-build: {line}"))
    except ToolMissing as exc:
        _missing(str(exc))
        raise
    except BuildFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def output(build: Build) -> Output:
    return read_output(build.project)


@pytest.fixture(scope="session")
def function(output: Output) -> Function:
    names = [f.name for f in output.functions]
    assert len(names) == 1, f"expected one Python function, the build made {names}"
    return output.functions[0]


@pytest.fixture(scope="session")
def vercel_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "vercel.json").read_text())
    return data


def test_the_build_finds_the_app_and_makes_one_function(output: Output) -> None:
    # With `app` hidden from the builder's static analysis there is no function at all (and
    # with "framework": null the build fails on the `functions` pattern).
    assert [f.config["handler"] for f in output.functions] == ["vc__handler__python.vc_handler"]
    assert ENTRY in output.functions[0].file_map


def test_the_runtime_is_one_vercel_serves(function: Function) -> None:
    minor = python_minor(function.runtime)
    assert minor is not None, function.runtime
    assert minor >= 12, function.runtime
    # What the builder picks it from: .python-version first, then requires-python.
    assert (ROOT / ".python-version").read_text().split()[0] == f"3.{minor}"


def test_the_python_floor_is_312_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.12"
    assert project["tool"]["ruff"]["target-version"] == "py312"
    assert project["tool"]["mypy"]["python_version"] == "3.12"


def test_no_file_of_the_repository_is_published(output: Output) -> None:
    assert output.static == [], f"{len(output.static)} public files, e.g. {output.static[:5]}"


@pytest.mark.parametrize("path", API_PATHS)
def test_api_paths_reach_the_function_unchanged(
    output: Output, function: Function, path: str
) -> None:
    assert output.route(path) == (function.name, path)


def test_vercel_json_settings_reach_the_function(
    output: Output, function: Function, vercel_json: dict[str, Any]
) -> None:
    assert function.config["maxDuration"] == vercel_json["functions"][ENTRY]["maxDuration"]
    assert output.config["crons"] == vercel_json["crons"]


def test_the_bundle_holds_the_app_only(output: Output, function: Function) -> None:
    tops = {path.split("/", 1)[0] for path in function.file_map}
    assert not tops & set(NOT_SHIPPED), sorted(tops & set(NOT_SHIPPED))
    assert not [t for t in tops if t.endswith(".egg-info")]
    assert not [p for p in function.file_map if p.startswith("_vendor/boto")], "boto3 shipped"
    assert output.bundle_bytes(function) <= MAX_BUNDLE_BYTES


def test_the_build_has_no_other_problem(output: Output, vercel_json: dict[str, Any]) -> None:
    assert problems(output, vercel_json) == []


# --- the built function, served ----------------------------------------------------------------


@pytest.fixture(scope="session")
def function_copy(
    output: Output, function: Function, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    python = find_python(f"3.{python_minor(function.runtime)}")
    if python is None:
        _missing(f"the function runs on {function.runtime}, which this machine does not have")
    return copy_function(output, function, tmp_path_factory.mktemp("function") / "task")


@pytest.fixture
def served(
    function_copy: Path, function: Function, app_env: dict[str, str]
) -> Iterator[ServedFunction]:
    # This test's database and queue prefix, and no kick after a write, so the cron does the
    # recomputation the test checks.
    env = {**app_env, "KICK_AFTER_WRITE": "false", "LOG_LEVEL": "WARNING"}
    with serve(function_copy, function, env) as instance:
        yield instance


def test_the_built_function_serves_write_drain_and_summary(
    served: ServedFunction, output: Output
) -> None:
    def call(method: str, path: str, **kwargs: Any) -> Any:
        # The path the platform hands the function, from the build's own routes.
        target, seen = output.route(path.split("?", 1)[0])
        assert target is not None, path
        assert seen is not None, path
        query = path[len(path.split("?", 1)[0]) :]
        return served.call(method, seen + query, **kwargs)

    user = {"Authorization": f"Bearer {mint_token('alice', get_settings())}"}
    health = call("GET", "/api/health")
    assert health.status == 200, health.body
    assert health.json()["checks"]["database"]["ok"] is True

    body = {"date": "2025-02-03", "amount": "-42.50", "currency": "USD", "description": "Tesco"}
    json_headers = {**user, "content-type": "application/json"}
    created = call(
        "POST", "/api/transactions", headers=json_headers, body=json.dumps(body).encode()
    )
    assert created.status == 201, created.body
    salary = {"date": "2025-02-28", "amount": "1000.00", "currency": "USD", "description": "Pay"}
    created = call(
        "POST", "/api/transactions", headers=json_headers, body=json.dumps(salary).encode()
    )
    assert created.status == 201, created.body

    wrong = call("GET", CRON, headers={"Authorization": "Bearer not-the-secret"})
    assert wrong.status == 401, wrong.body
    drained = call("GET", f"{CRON}?wait=true", headers={"Authorization": f"Bearer {CRON_SECRET}"})
    assert drained.status == 200, drained.body
    assert drained.json()["succeeded"] == 1, drained.body

    summary = call("GET", "/api/summary", headers=user)
    assert summary.status == 200, summary.body
    figures = summary.json()["currencies"]["USD"]
    assert (figures["income_minor"], figures["expenses_minor"]) == (100000, 4250)
    assert figures["transaction_count"] == 2
    assert summary.json()["stale"] is False

    # A path no route of the app serves is the app's own JSON 404, not the platform's page.
    missing = call("GET", "/api/no-such-route")
    assert (missing.status, missing.json()) == (404, {"detail": "Not Found"})
    assert missing.headers["content-type"] == ["application/json"]


def test_the_built_function_kicks_after_a_write_so_no_cron_is_needed(
    function_copy: Path, function: Function, app_env: dict[str, str]
) -> None:
    """KICK_AFTER_WRITE at its default: the write's own invocation brings the summary up to date
    after its response, through the runtime's handler; no cron call in between."""
    env = {**app_env, "LOG_LEVEL": "WARNING"}
    env.pop("KICK_AFTER_WRITE", None)
    user = {"Authorization": f"Bearer {mint_token('bob', get_settings())}"}
    body = {"date": "2025-03-04", "amount": "-7.25", "currency": "EUR", "description": "Bakery"}
    headers = {**user, "content-type": "application/json"}
    with serve(function_copy, function, env) as served:
        created = served.call(
            "POST", "/api/transactions", headers=headers, body=json.dumps(body).encode()
        )
        assert created.status == 201, created.body
        summary = served.call("GET", "/api/summary", headers=user)
    assert summary.status == 200, summary.body
    answer = summary.json()
    assert (answer["state"], answer["stale"]) == ("current", False), answer
    assert answer["currencies"]["EUR"]["expenses_minor"] == 725


def test_the_built_function_serves_the_operator_page_and_its_files(
    served: ServedFunction, output: Output
) -> None:
    """The templates and static files are data, not Python: the bundle must still hold them."""

    def call(path: str, headers: dict[str, str] | None = None) -> Any:
        target, seen = output.route(path.split("?", 1)[0])
        assert target is not None, path
        assert seen is not None, path
        return served.call("GET", seen + path[len(path.split("?", 1)[0]) :], headers=headers)

    page = call("/api/admin", headers={"Accept": "text/html"})
    assert page.status == 200, page.body
    text = page.body.decode()
    assert "<title>Tally queue: financial-summary</title>" in text
    figures = call("/api/admin/queue", headers={"Authorization": f"Bearer {CRON_SECRET}"})
    assert figures.status == 200, figures.body
    assert figures.json()["queue"]["pending"] == 0
    for name, media in (("operator.js", "text/javascript"), ("operator.css", "text/css")):
        found = re.search(rf'"(/api/admin/static/{re.escape(name)}\?v=\w+)"', text)
        assert found is not None, name
        asset = call(found.group(1))
        assert asset.status == 200, (name, asset.body)
        assert asset.headers["content-type"][0].startswith(media)
        assert asset.body == (STATIC_DIR / name).read_bytes()
