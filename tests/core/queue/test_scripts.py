"""Each Lua file's header states its KEYS; the Python side passes exactly those, in order."""

from __future__ import annotations

import re

import pytest

from core.queue.keys import Part
from core.queue.scripts import KEY_PARTS, LUA_DIR, ScriptName, load

HEADER_KEY = re.compile(r"^-- KEYS\[(\d+)\]\s+(\w+)", re.MULTILINE)


@pytest.mark.parametrize("name", list(ScriptName))
def test_header_lists_the_keys_python_passes(name: ScriptName) -> None:
    source = load(name).source
    declared = [(int(i), part) for i, part in HEADER_KEY.findall(source)]
    assert [i for i, _ in declared] == list(range(1, len(declared) + 1))
    assert [Part(part) for _, part in declared] == list(KEY_PARTS[name])


@pytest.mark.parametrize("name", list(ScriptName))
def test_scripts_touch_only_declared_keys(name: ScriptName) -> None:
    source = load(name).source
    body = "\n".join(line for line in source.splitlines() if not line.startswith("--"))
    used = {int(i) for i in re.findall(r"KEYS\[(\d+)\]", body)}
    assert used <= set(range(1, len(KEY_PARTS[name]) + 1))
    # No key names built inside a script: every key arrives in KEYS.
    assert ".. ':'" not in body


def test_every_script_file_is_registered() -> None:
    assert {p.stem for p in LUA_DIR.glob("*.lua")} == {n.value for n in ScriptName}
