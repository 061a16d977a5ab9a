"""Where the embedded backend (fakeredis) is brought in line with Redis and Upstash.

Each command goes through `rewrite` before fakeredis runs it and its reply through `adapt`
after, so a pipeline or a MULTI/EXEC still costs one round trip:
- SETEX/PSETEX become `SET ... PX`, and GETEX with EX/PX a GET and PEXPIRE in one script:
  fakeredis counts their expiry from a stale clock or keeps it in whole seconds, so a key
  could expire up to a second early;
- TTL is read as PTTL and rounded to the nearest second, as Redis does (fakeredis truncates);
- TOUCH is EXISTS (the same count; fakeredis has no access times to update);
- EVAL_RO and EVALSHA_RO, which fakeredis lacks, run the script as a read-only function
  (`FUNCTION LOAD` of a `no-writes` library, then `FCALL_RO`), so a write inside is refused as
  Redis refuses it; EVAL_RO also loads the script, as Redis caches every script it runs;
- ZRANDMEMBER without a count answers one member, not an array of one;
- every `JSON.*` command goes through `json_commands`, which says what it corrects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from tooling.upstash_local import json_commands
from tooling.upstash_local.json_commands import Paths
from tooling.upstash_local.protocol import Command, Reply, ReplyError

_RENAMED = {"TOUCH": "EXISTS"}
# fakeredis' GETEX stores every expiry in whole seconds, whatever the unit: GET and PEXPIRE
# together instead, atomic in one script.
_GETEX_SCRIPT = (
    "local value = redis.call('GET', KEYS[1]) "
    "if value then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "return value"
)
_NO_SCRIPT = "NOSCRIPT No matching script. Please use EVAL."


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What fakeredis runs for one command: its reply is the last one's, unless an earlier
    command of the group failed; `paths` is what `adapt` needs to shape that reply."""

    commands: list[Command]
    paths: Paths | None = None


def rewrite(command: Command, scripts: Mapping[bytes, bytes]) -> Rewrite | ReplyError:
    """The commands fakeredis is given instead of `command`; `scripts` is its script cache."""
    name = command[0].upper()
    if name in _RENAMED:
        return Rewrite([[_RENAMED[name], *command[1:]]])
    if name in {"SETEX", "PSETEX"}:
        return _setex(name, command)
    if name == "TTL" and len(command) == 2:
        return Rewrite([["PTTL", command[1]]])
    if name == "GETEX" and len(command) == 4 and command[2].upper() in {"EX", "PX"}:
        return _getex(command)
    if name in {"EVAL_RO", "EVALSHA_RO"} and len(command) >= 3:
        return _read_only_script(name, command, scripts)
    if name.startswith("JSON."):
        json_rewrite = json_commands.rewrite(name, command)
        if json_rewrite is not None:
            return Rewrite(*json_rewrite)
    return Rewrite([command])


def group_reply(replies: list[Reply]) -> Reply:
    """The reply of a rewritten command from the replies of the commands it became."""
    failed = next((reply for reply in replies[:-1] if isinstance(reply, ReplyError)), None)
    return failed if failed is not None else replies[-1]


def _read_only_script(
    name: str, command: Command, scripts: Mapping[bytes, bytes]
) -> Rewrite | ReplyError:
    _, script_or_sha, numkeys, *rest = command
    load: list[Command] = []
    if name == "EVAL_RO":
        script = script_or_sha
        load = [["SCRIPT", "LOAD", script]]
    else:
        cached = scripts.get(script_or_sha.lower().encode())
        if cached is None:
            return ReplyError(_NO_SCRIPT)
        script = cached.decode("utf-8", errors="replace")
    sha = hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
    library = (
        f"#!lua name=upstash_local_ro_{sha}\n"
        f"redis.register_function{{function_name='ro_{sha}', "
        f"callback=function(KEYS, ARGV)\n{script}\nend, flags={{'no-writes'}}}}"
    )
    function = ["FUNCTION", "LOAD", "REPLACE", library]
    return Rewrite([*load, function, ["FCALL_RO", f"ro_{sha}", numkeys, *rest]])


def adapt(command: Command, reply: Reply, paths: Paths | None) -> Reply:
    """The reply Redis would have sent for `command` (as the client sent it)."""
    name = command[0].upper()
    if name.startswith("JSON."):
        return json_commands.adapt(name, command, reply, paths)
    if isinstance(reply, ReplyError):
        return reply
    if name == "TTL" and isinstance(reply, int) and reply >= 0:
        return (reply + 500) // 1000  # Redis rounds a TTL to the nearest second
    if name == "ZRANDMEMBER" and len(command) == 2 and isinstance(reply, list):
        return reply[0] if reply else None
    return reply


def _setex(name: str, command: Command) -> Rewrite | ReplyError:
    if len(command) != 4:
        return ReplyError(f"ERR wrong number of arguments for '{name.lower()}' command")
    _, key, ttl, value = command
    try:
        amount = int(ttl)
    except ValueError:
        return ReplyError("ERR value is not an integer or out of range")
    if amount <= 0:
        return ReplyError(f"ERR invalid expire time in '{name.lower()}' command")
    milliseconds = amount * 1000 if name == "SETEX" else amount
    return Rewrite([["SET", key, value, "PX", str(milliseconds)]])


def _getex(command: Command) -> Rewrite | ReplyError:
    _, key, unit, ttl = command
    try:
        amount = int(ttl)
    except ValueError:
        return ReplyError("ERR value is not an integer or out of range")
    if amount <= 0:
        return ReplyError("ERR invalid expire time in 'getex' command")
    milliseconds = amount * 1000 if unit.upper() == "EX" else amount
    return Rewrite([["EVAL", _GETEX_SCRIPT, "1", key, str(milliseconds)]])
