"""The product apart from its harness, and each part of the product in its own room.

`api/`, `core/` and `functions/` are the product; `tooling/` (benchmark, reliability scenarios,
local Upstash), `tests/` and `scripts/` import the product, never the other way round. Inside
the product, each package imports only the parts `MAY_IMPORT` lists, and its `__init__.py`
docstring says the same in its "May import" sentence. The checks read every module's imports,
so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("api", "core", "functions")
HARNESS = ("tooling", "tests", "scripts")


# The one table of the product's layering: a part, and the parts it may import. A name covers the
# parts below it (`core` is every part of core). A part's own modules are always allowed; a
# subpackage is a part of its own, so a parent may import it only when listed.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "core": (),
    "core.base": (),
    "core.queue": ("core.base",),
    "core.writes.statements": ("core.base",),
    # The write side keeps the summary's rollup cells current in its own transaction.
    "core.writes": ("core.base", "core.queue", "core.summary", "core.writes.statements"),
    "core.summary": ("core.base",),
    "core.drain": ("core.base", "core.queue"),
    "core.notify.channels": ("core.base",),
    "core.notify": ("core.base", "core.summary", "core.notify.channels"),
    "core.operator": ("core",),
    "functions": (
        "core.base",
        "core.queue",
        "core.summary",
        "core.drain",
        "core.notify",
        "core.notify.channels",
    ),
    "api": ("core", "functions"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str | None = None) -> set[str]:
    """Every module `path` imports, at the top or lazily, relative imports resolved as if it
    were `module` (by default, the module at that path)."""
    if module is None and path.is_relative_to(ROOT):
        module = module_name(path)
    package = (module or "").split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from core.writes import statements` imports a subpackage, not a name.
            names.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
            names.add(module)
    return {name for name in names if name}


def part_of(module: str) -> str | None:
    """The longest `MAY_IMPORT` part `module` belongs to, None outside the product."""
    candidates = [p for p in MAY_IMPORT if module == p or module.startswith(p + ".")]
    return max(candidates, key=len, default=None)


def allowed(names: tuple[str, ...] | set[str]) -> set[str]:
    return {p for p in MAY_IMPORT if any(p == n or p.startswith(n + ".") for n in names)}


def forbidden_imports(module: str, imports: set[str]) -> list[str]:
    own = part_of(module)
    assert own is not None, f"{module} is in no part of MAY_IMPORT"
    ok = allowed(MAY_IMPORT[own]) | {own}
    return sorted(name for name in imports if (part_of(name) or own) not in ok)


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


def test_every_package_of_the_product_has_a_row() -> None:
    packages = {module_name(p) for top in ("core",) for p in (ROOT / top).rglob("__init__.py")}
    assert packages - set(MAY_IMPORT) == set(), "add the new package to MAY_IMPORT"
    assert set(MAY_IMPORT) - packages - {"api", "functions"} == set()


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_part_imports_only_what_it_may(path: Path) -> None:
    wrong = forbidden_imports(module_name(path), imported_modules(path))
    part = part_of(module_name(path))
    assert wrong == [], f"{path.relative_to(ROOT)} ({part}) may not import {wrong}"


def test_nothing_in_core_imports_the_operator_surface_api_or_functions() -> None:
    for part, names in MAY_IMPORT.items():
        if part.startswith("core") and part != "core.operator":
            assert allowed(names) & {"core.operator", "api", "functions"} == set(), part


def may_import_sentence(part: str) -> str:
    init = ROOT.joinpath(*part.split("."), "__init__.py")
    doc = " ".join((ast.get_docstring(ast.parse(init.read_text())) or "").split())
    found = re.search(r"\bmay import (.*?)\.(?:\s|$)", doc, re.IGNORECASE)
    assert found, f"{init.relative_to(ROOT)}: its docstring has no 'May import ...' sentence"
    return found.group(1)


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_each_docstring_allows_what_the_table_allows(part: str) -> None:
    named = set(re.findall(r"`([a-z_.]+)`", may_import_sentence(part))) & set(MAY_IMPORT)
    assert allowed(named) - {part} == allowed(MAY_IMPORT[part]) - {part}


def test_the_check_flags_a_forbidden_import() -> None:
    assert forbidden_imports("core.base.db", {"core.queue.keys", "sqlite3"}) == ["core.queue.keys"]
    assert forbidden_imports("core.drain.runner", {"functions"}) == ["functions"]
    assert forbidden_imports("core.summary.read", {"core.operator.page"}) == ["core.operator.page"]
    assert forbidden_imports("core.operator.cli", {"core.drain.runner", "core.writes"}) == []
    assert forbidden_imports("core.writes.uploads", {"core.writes.statements.parser"}) == []
    assert forbidden_imports("core.writes.statements.csv_format", {"core.writes.uploads"}) == [
        "core.writes.uploads"
    ]


def test_the_check_resolves_a_relative_import(tmp_path: Path) -> None:
    source = tmp_path / "db.py"
    source.write_text("def f():\n    from ..queue import keys\n")
    assert "core.queue.keys" in imported_modules(source, "core.base.db")
    assert forbidden_imports("core.base.db", imported_modules(source, "core.base.db")) != []


SOURCE_FOLDERS = (*PRODUCT, *HARNESS, "migrations")
# A module this long hides more than one concept; one that must stay longer says why.
MAX_MODULE_LINES = 400


def source_modules() -> list[Path]:
    return sorted(p for top in SOURCE_FOLDERS for p in (ROOT / top).rglob("*.py"))


def test_no_two_module_names_differ_only_by_a_plural() -> None:
    names: dict[str, set[str]] = {}
    for path in source_modules():
        rel = path.relative_to(ROOT)
        for name in (path.stem, *rel.parent.parts):
            names.setdefault(name, set()).add(str(rel if name == path.stem else rel.parent))
    clashes = [
        (sorted(names[name]), sorted(names[name + ending]))
        for name in names
        for ending in ("s", "es")
        if name + ending in names
    ]
    assert clashes == []


# Tests are left out: a test module is as long as the contract it holds.
@pytest.mark.parametrize(
    "path",
    [p for p in source_modules() if p.relative_to(ROOT).parts[0] not in ("tests", "migrations")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_a_long_module_says_why_it_is_long(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert lines <= MAX_MODULE_LINES or f"over {MAX_MODULE_LINES} lines" in doc, (
        f"{path.relative_to(ROOT)} has {lines} lines: split it by concept, or say in its "
        f"docstring why it is over {MAX_MODULE_LINES} lines"
    )
