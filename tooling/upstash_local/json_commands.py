"""`JSON.*` in the embedded backend: where fakeredis's JSON commands are brought in line
with RedisJSON and Upstash (`embedded.rewrite` and `embedded.adapt` hand every `JSON.*` command
here, before fakeredis runs it and after it answers):
- JSON.GET and JSON.MGET read the whole documents and apply the paths here (fakeredis shapes
  their replies the way redis-py's client returns them, not as the server sends them), and
  JSON.NUMINCRBY/NUMMULTBY answer the JSON text of their results, as RedisJSON does (and `[]`
  for a `$` path that matches nothing, where fakeredis errs);
- JSON.ARRINDEX with no stop (or 0/-1) searches to the array's end (fakeredis stops before the
  last element); JSON.MERGE on a missing key creates it at the root, as Redis does (fakeredis
  fails); JSON.RESP, which fakeredis lacks, is JSON.GET's document in RESP shape;
- JSON.MERGE applies the patch at every match as RFC 7396 (and RedisJSON) do: fakeredis ignores
  a patch that is no object and fails on an object patch meeting a value that is no object. The
  patch is flattened here into steps (null deletes, a value or an object meeting no object is set
  whole, an object meeting objects goes on member by member) that one script runs in order;
- JSON.SET below the root refuses a path whose parent is missing or holds no object or array,
  as Upstash does (Redis answers nil; fakeredis made the missing parents), and a key that does
  not exist yet, as Redis does (fakeredis answered OK and stored nothing);
- JSON.TOGGLE with a `$` path answers nil for each match that is no boolean, and `[]` for a path
  matching nothing, as Redis and Upstash do (fakeredis fails when no match is a boolean): the
  matches' types come first, in the same script;
- a `$` path with recursive descent (`$..a`) answers its matches in Upstash's order, the reverse
  of the document order fakeredis (and Redis) list them in: every `$..` reply in the SDK's own
  JSON tests is Redis's list reversed, the nested match first. JSON.GET/MGET/RESP order them
  here; the commands that answer one item per match have their reply reversed.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from tooling.upstash_local.protocol import Command, Reply, ReplyError

_ROOT = "."
_GET_FORMAT_OPTIONS = frozenset({"INDENT", "NEWLINE", "SPACE"})
# ARRINDEX's stop when the client gives none (or 0/-1, which mean the end in RedisJSON).
_TO_THE_END = str(2**31 - 1)
# JSON.SET below the root: ARGV[1] path, ARGV[2] value, ARGV[3] the parent's `$` path (or ''
# where the path names no single member or index), then the options (NX, XX).
_SET_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('ERR new objects must be created at the root')
end
if ARGV[3] ~= '' then
  local found = false
  for _, kind in ipairs(redis.call('JSON.TYPE', KEYS[1], ARGV[3])) do
    if kind == 'object' or kind == 'array' then found = true end
  end
  if not found then return redis.error_reply("ERR Path '" .. ARGV[1] .. "' does not exist") end
end
return redis.pcall('JSON.SET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 4))
"""
# JSON.MERGE as steps of four arguments from ARGV[4]: depth, op, `$` path, JSON. `merge` (an
# object patch) goes on to the steps below it where every match is an object, and otherwise sets
# its (null-free) object whole and skips them; `set` sets a value; `del` deletes. A step at depth
# 0 that matches nothing creates its value, under an existing parent (ARGV[3]) only.
_MERGE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] == '$' then return redis.call('JSON.SET', KEYS[1], '$', ARGV[2]) end
  return redis.error_reply('ERR new objects must be created at the root')
end
local skip = nil
for i = 4, #ARGV, 4 do
  local depth, op, path, value = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if skip == nil or depth <= skip then
    skip = nil
    if op == 'del' then
      redis.call('JSON.DEL', KEYS[1], path)
    else
      local kinds = redis.call('JSON.TYPE', KEYS[1], path)
      local objects = 0
      for _, kind in ipairs(kinds) do
        if kind == 'object' then objects = objects + 1 end
      end
      if op == 'merge' and objects > 0 and objects < #kinds then
        return redis.error_reply('ERR upstash_local cannot merge an object into matches '
          .. 'of which only some are objects')
      end
      if op ~= 'merge' or objects == 0 then
        if depth == 0 and #kinds == 0 and ARGV[3] ~= '' then
          local found = false
          for _, kind in ipairs(redis.call('JSON.TYPE', KEYS[1], ARGV[3])) do
            if kind == 'object' or kind == 'array' then found = true end
          end
          if not found then
            return redis.error_reply("ERR Path '" .. path .. "' does not exist")
          end
        end
        redis.call('JSON.SET', KEYS[1], path, value)
        if op == 'merge' then skip = depth end
      end
    end
  end
end
return redis.status_reply('OK')
"""
# The JSON commands whose reply to a `$` path holds one item per match, in document order.
_PER_MATCH = frozenset(
    {
        "JSON.ARRAPPEND",
        "JSON.ARRINDEX",
        "JSON.ARRINSERT",
        "JSON.ARRLEN",
        "JSON.ARRPOP",
        "JSON.ARRTRIM",
        "JSON.NUMINCRBY",
        "JSON.NUMMULTBY",
        "JSON.OBJKEYS",
        "JSON.OBJLEN",
        "JSON.STRAPPEND",
        "JSON.STRLEN",
        "JSON.TOGGLE",
        "JSON.TYPE",
    }
)
# JSON.TOGGLE on a `$` path: 1/0 for each boolean match, nil for any other. fakeredis' TOGGLE
# fails unless a match is a boolean, and its true/false would both reach Lua as booleans (false
# and nil alike), so each item is rebuilt from the matches' types, read first in the same script.
_TOGGLE_SCRIPT = (
    "local kinds = redis.pcall('JSON.TYPE', KEYS[1], ARGV[1]) "
    "if kinds.err then return kinds end "
    "local out, toggled = {}, nil "
    "for i, kind in ipairs(kinds) do "
    "if kind == 'boolean' and toggled == nil then "
    "toggled = redis.call('JSON.TOGGLE', KEYS[1], ARGV[1]) end "
    "if kind == 'boolean' then out[i] = toggled[i] and 1 or 0 else out[i] = false end end "
    "return out"
)
# fakeredis' JSON.MGET answers "[]" for a missing key, as for a document that is an empty array:
# each whole document, or nil for a missing key, in one command (and so one reply in MULTI).
_MGET_SCRIPT = (
    "local out = {} "
    "for i, key in ipairs(KEYS) do "
    "if redis.call('EXISTS', key) == 1 then out[i] = redis.call('JSON.GET', key, '.') "
    "else out[i] = false end end "
    "return out"
)


class Paths:
    """The paths a JSON read asked for, kept until its reply comes back."""

    def __init__(self, name: str, paths: list[str]) -> None:
        self.name = name
        self.paths = paths


def rewrite(name: str, command: Command) -> tuple[list[Command], Paths | None] | None:
    """What fakeredis runs instead of the JSON command `command` (and the paths `adapt` needs
    to shape its reply), or None when fakeredis runs it as it is."""
    if name == "JSON.GET" and len(command) >= 2:
        return [["JSON.GET", command[1], _ROOT]], Paths(name, _get_paths(command[2:]))
    if name == "JSON.ARRINDEX" and 4 <= len(command) <= 6:
        start = command[4] if len(command) > 4 else "0"
        stop = command[5] if len(command) > 5 else "0"
        stop = _TO_THE_END if stop.strip() in {"0", "-1"} else stop
        return [[*command[:4], start, stop]], None
    if name == "JSON.SET" and len(command) >= 4 and command[2].strip() not in {"$", "."}:
        _, key, path, value, *options = command
        parent = _parent_path(_as_jsonpath(path)) or ""
        return [["EVAL", _SET_SCRIPT, "1", key, path, value, parent, *options]], None
    if name == "JSON.MERGE" and len(command) == 4:
        return _merge(command), None
    if name == "JSON.TOGGLE" and len(command) == 3 and command[2].startswith("$"):
        return [["EVAL", _TOGGLE_SCRIPT, "1", command[1], command[2]]], None
    if name == "JSON.RESP" and len(command) in {2, 3}:
        path = command[2] if len(command) == 3 else "."
        return [["JSON.GET", command[1], _ROOT]], Paths(name, [path])
    if name == "JSON.MGET" and len(command) >= 3:
        keys = command[1:-1]
        return [["EVAL", _MGET_SCRIPT, str(len(keys)), *keys]], Paths(name, [command[-1]])
    return None


def adapt(name: str, command: Command, reply: Reply, paths: Paths | None) -> Reply:
    """The reply RedisJSON (and Upstash) would have sent for the JSON command `command`."""
    if isinstance(reply, ReplyError):
        dollar = len(command) >= 3 and command[2].startswith("$")
        if name in {"JSON.NUMINCRBY", "JSON.NUMMULTBY"} and dollar and "exist" in reply.message:
            return b"[]"  # a `$` path that matches nothing: no result, no error
        return reply
    if name in _PER_MATCH and isinstance(reply, list) and len(command) >= 3:
        reply = _in_upstash_order(command[2], reply)
    if paths is not None and paths.name == "JSON.GET":
        return _select(reply, paths.paths)
    if paths is not None and paths.name == "JSON.RESP":
        return _resp_reply(reply, paths.paths[0])
    if paths is not None:  # JSON.MGET: one document per key
        if not isinstance(reply, list):
            return reply
        selected = [_select(document, paths.paths) for document in reply]
        errors = [item for item in selected if isinstance(item, ReplyError)]
        return errors[0] if errors else selected
    if name in {"JSON.NUMINCRBY", "JSON.NUMMULTBY"} and isinstance(reply, list):
        return _dump([_number(item) for item in reply]).encode()
    return reply


def _merge(command: Command) -> list[Command]:
    _, key, path, value = command
    try:
        patch = json.loads(value)
    except ValueError:
        return [command]  # fakeredis answers with its error
    target = _as_jsonpath(path)
    steps: list[str] = []
    _merge_steps(target, patch, 0, steps)
    parent = _parent_path(target) or ""
    created = _dump(_without_nulls(patch))
    return [["EVAL", _MERGE_SCRIPT, "1", key, target, created, parent, *steps]]


def _merge_steps(path: str, patch: Any, depth: int, steps: list[str]) -> None:
    """The steps (depth, op, path, JSON) of RFC 7396's merge of `patch` at `path`, depth first."""
    if patch is None:
        steps += [str(depth), "del", path, ""]
        return
    if not isinstance(patch, dict):
        steps += [str(depth), "set", path, _dump(patch)]
        return
    steps += [str(depth), "merge", path, _dump(_without_nulls(patch))]
    for member, value in patch.items():
        _merge_steps(f"{path}[{_dump(member)}]", value, depth + 1, steps)


def _without_nulls(patch: Any) -> Any:
    """What merging `patch` into a value that is no object yields: its objects without nulls."""
    if not isinstance(patch, dict):
        return patch
    return {member: _without_nulls(value) for member, value in patch.items() if value is not None}


def _get_paths(arguments: list[str]) -> list[str]:
    """JSON.GET's paths, without its formatting options (which are not applied here)."""
    paths: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument.upper() in _GET_FORMAT_OPTIONS:
            skip = True
        elif argument.upper() != "NOESCAPE":
            paths.append(argument)
    return paths


def _select(document: Reply, paths: list[str]) -> Reply:
    """JSON.GET's reply from the whole document: RedisJSON's shapes for `$` and legacy paths."""
    if document is None or not isinstance(document, bytes):
        return document
    root = json.loads(document)
    if not paths:
        return _dump(root).encode()
    try:
        if len(paths) == 1:
            return _dump(_one_path(root, paths[0])).encode()
        if any(path.startswith("$") for path in paths):
            # Mixed legacy and `$` paths answer as `$` paths do, each a list of matches.
            return _dump({path: _matches(root, _as_jsonpath(path)) for path in paths}).encode()
        return _dump({path: _one_path(root, path) for path in paths}).encode()
    except _PathMissing as exc:
        return ReplyError(f"ERR Path '{exc}' does not exist")
    except Exception as exc:  # noqa: BLE001 - jsonpath_ng's parse errors have no common base
        return ReplyError(f"ERR invalid JSONPath: {exc}")


class _PathMissing(LookupError):
    pass


def _one_path(root: Any, path: str) -> Any:
    if path.startswith("$"):
        return _matches(root, path)
    found = _matches(root, _as_jsonpath(path), upstash_order=False)
    if not found:
        raise _PathMissing(path)
    return found[0]  # the first in document order, as Redis answers a legacy path


# The last step of a JSONPath that names one member or index: `.a`, `["a"]`, `['a']`, `[2]`.
_LAST_STEP = re.compile(
    r"""(?:\.[^.\[\]'"*]+|\[\s*(?:-?\d+|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\])$"""
)


def _parent_path(path: str) -> str | None:
    """The JSONPath of the value that holds `path`'s match, where `path` names one member or
    index of it (None for the root, a wildcard, a filter, or a member of every descendant)."""
    found = _LAST_STEP.search(path)
    if found is None or not path.startswith("$"):
        return None
    parent = path[: found.start()]
    return None if not parent or parent.endswith(".") else parent


def _as_jsonpath(path: str) -> str:
    """A legacy path (`.a.b`, `a`, `.`) as the JSONPath it means."""
    if path.startswith("$"):
        return path
    if path in {"", "."}:
        return "$"
    return "$" + path if path.startswith((".", "[")) else "$." + path


def _matches(root: Any, path: str, upstash_order: bool = True) -> list[Any]:
    """The values `path` matches, in document order or (by default) in Upstash's order."""
    values = [match.value for match in _parse(path).find(root)]
    return _in_upstash_order(path, values) if upstash_order else values


def _in_upstash_order[T](path: str, matches: list[T]) -> list[T]:
    """Matches listed in document order, reordered as Upstash lists them for `path`."""
    return matches[::-1] if _descends(path) else matches


@functools.lru_cache(maxsize=256)
def _descends(path: str) -> bool:
    """Whether `path` is a JSONPath (`$...`) with a recursive descent step (`..`)."""
    if not path.startswith("$"):
        return False
    try:
        node: Any = _parse(path)
    except Exception:  # noqa: BLE001 - jsonpath_ng's parse errors have no common base
        return False  # fakeredis answers the command with its error; nothing to reorder
    from jsonpath_ng import Descendants

    pending = [node]
    while pending:
        node = pending.pop()
        if isinstance(node, Descendants):
            return True
        pending += [getattr(node, side) for side in ("left", "right") if hasattr(node, side)]
    return False


@functools.lru_cache(maxsize=256)
def _parse(path: str) -> Any:
    from jsonpath_ng import ext

    return ext.parse(path)  # type: ignore[attr-defined]  # re-exported, not listed


def _number(item: Reply) -> int | float | None:
    if not isinstance(item, bytes):
        return None if item is None or isinstance(item, ReplyError | list) else item
    value = float(item)
    return int(value) if value.is_integer() and b"." not in item and b"e" not in item else value


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _resp_reply(document: Reply, path: str) -> Reply:
    """JSON.RESP's reply from the whole document: a `$` path's matches, or a legacy path's value."""
    if document is None or not isinstance(document, bytes):
        return document
    root = json.loads(document)
    try:
        if path.startswith("$"):
            return [_resp(value) for value in _matches(root, path)]
        return _resp(_one_path(root, path))
    except _PathMissing as exc:
        return ReplyError(f"ERR Path '{exc}' does not exist")


def _resp(value: Any) -> Reply:
    """A JSON value as RedisJSON's RESP form: `{` then keys and values, `[` then items, numbers
    as integers (floats as their text), true/false as text, null as nil."""
    if isinstance(value, dict):
        out: list[Reply] = [b"{"]
        for key, item in value.items():
            out += [key.encode(), _resp(item)]
        return out
    if isinstance(value, list):
        return [b"[", *(_resp(item) for item in value)]
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return value
    if value is None:
        return None
    if isinstance(value, float):
        return _dump(value).encode()
    return str(value).encode()
