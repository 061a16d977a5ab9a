"""Tally's licence, and every package a deployment ships under a licence compatible with it.

The README's "Licence" table lists each package of the runtime closure (pyproject's
dependencies and what they pull in, with the extras asked for) and its SPDX licence. Each entry
is checked against the installed package's own metadata, so a new dependency, or one whose
licence changed, fails here until the table says what it is and the licence fits.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

# Licences a bundle of Tally (MIT) may carry. MPL-2.0 and LGPL are file- and library-level
# copyleft: shipping the unmodified package as its own files, replaceable, meets them.
COMPATIBLE = frozenset(
    {
        "MIT",
        "MIT-0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "Apache-2.0",
        "ISC",
        "PSF-2.0",
        "MPL-2.0",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
    }
)
# What a trove classifier says, for packages whose metadata has no SPDX expression.
_CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": {"MIT"},
    "License :: OSI Approved :: BSD License": {"BSD-2-Clause", "BSD-3-Clause"},
    "License :: OSI Approved :: Apache Software License": {"Apache-2.0"},
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": {"MPL-2.0"},
    "License :: OSI Approved :: ISC License (ISCL)": {"ISC"},
    "License :: OSI Approved :: Python Software Foundation License": {"PSF-2.0"},
}
_SPDX_TOKEN = re.compile(r"[A-Za-z0-9.+-]+")


def runtime_closure() -> dict[str, str | None]:
    """Every installed package the runtime dependencies need: name -> the one that needs it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = {key: str(value) for key, value in default_environment().items()}
    pending: list[tuple[Requirement, str | None]] = [
        (Requirement(line), None) for line in project["dependencies"]
    ]
    found: dict[str, str | None] = {canonicalize_name(r.name): None for r, _ in pending}
    expanded: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, parent = pending.pop()
        name = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras)
        if (name, extras) in expanded:
            continue
        expanded.add((name, extras))
        found.setdefault(name, parent)
        for line in metadata.distribution(name).requires or []:
            child = Requirement(line)
            wanted = child.marker is None or any(
                child.marker.evaluate({**environment, "extra": extra}) for extra in {"", *extras}
            )
            if wanted:
                pending.append((child, name))
    return found


def readme_table() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.partition("\n## Licence\n")[2].partition("\n## ")[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section, flags=re.MULTILINE)
    return {canonicalize_name(name): licence for name, licence in rows}


def spdx_ids(expression: str) -> set[str]:
    return {t for t in _SPDX_TOKEN.findall(expression) if t not in {"OR", "AND", "WITH"}}


def is_compatible(expression: str) -> bool:
    """An SPDX expression fits when every AND term has an alternative that fits."""
    terms = expression.replace("(", " ").replace(")", " ").split(" AND ")
    return all(
        spdx_ids(term) and spdx_ids(term.replace(" OR ", " ")) & COMPATIBLE for term in terms
    )


def declared_licences(name: str) -> set[str]:
    """The SPDX expressions the installed package's metadata allows the table to state."""
    meta = metadata.distribution(name).metadata
    if expression := meta.get("License-Expression"):
        return {expression.strip()}
    field = (meta.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= 40:
        return {field}
    return set().union(*(_CLASSIFIERS.get(c, set()) for c in meta.get_all("Classifier") or []))


def test_the_repository_has_an_mit_licence() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]


def test_the_readme_lists_exactly_the_runtime_closure() -> None:
    closure, table = runtime_closure(), readme_table()
    assert sorted(set(closure) - set(table)) == [], "packages shipped but not in README Licence"
    assert sorted(set(table) - set(closure)) == [], "README Licence lists packages not shipped"


@pytest.mark.parametrize("name", sorted(runtime_closure()))
def test_each_shipped_package_has_its_stated_compatible_licence(name: str) -> None:
    stated = readme_table().get(name)
    assert stated is not None, f"{name} is missing from the README Licence table"
    assert stated in declared_licences(name), f"{name}: metadata says {declared_licences(name)}"
    assert is_compatible(stated), f"{name} is {stated}, which an MIT bundle cannot carry"


@pytest.mark.parametrize(
    ("expression", "fits"),
    [
        ("MIT", True),
        ("Apache-2.0 OR BSD-3-Clause", True),
        ("GPL-3.0-only", False),
        ("GPL-3.0-or-later OR MIT", True),
        ("MIT AND GPL-3.0-only", False),
    ],
)
def test_compatibility_of_expressions(expression: str, fits: bool) -> None:
    assert is_compatible(expression) is fits
