"""The product apart from its harness: nothing that ships in a function imports the tooling.

`api/`, `core/` and `functions/` are the product; `tooling/` (benchmark, reliability scenarios,
local Upstash), `tests/` and `scripts/` import the product, never the other way round. The check
reads every module's import statements, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("api", "core", "functions")
HARNESS = ("tooling", "tests", "scripts")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def product_modules() -> list[Path]:
    return sorted(p for top in PRODUCT for p in (ROOT / top).rglob("*.py"))


def test_the_product_has_modules_to_check() -> None:
    assert len(product_modules()) > 40


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_product_never_imports_the_harness(path: Path) -> None:
    harness = sorted(name for name in imported_modules(path) if name.split(".")[0] in HARNESS)
    assert harness == [], f"{path.relative_to(ROOT)} imports {harness}"


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tooling.bench import run_benchmark\n")
    assert "tooling.bench" in imported_modules(module)
