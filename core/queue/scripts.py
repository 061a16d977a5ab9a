"""The Lua scripts (in `lua/`), loaded once and called through one wrapper.

Each script is sent as EVALSHA; only when Redis does not know it yet (NOSCRIPT: a fresh
database, a flush) is the full text sent with EVAL, which also caches it for next time.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.queue.keys import Part, QueueKeys

if TYPE_CHECKING:
    from upstash_redis import Redis

LUA_DIR = Path(__file__).resolve().parent / "lua"


class ScriptName(enum.StrEnum):
    ENQUEUE = "enqueue"
    CLAIM = "claim"
    CLAIM_USER = "claim_user"
    SETTLE = "settle"
    REAP = "reap"
    STATS = "stats"
    DEAD = "dead"
    RETRY_NOW = "retry_now"


# The KEYS each script takes, in order: the same contract as the header of its .lua file
# (a test holds the two together).
KEY_PARTS: dict[ScriptName, tuple[Part, ...]] = {
    ScriptName.ENQUEUE: (Part.PENDING, Part.QUEUED, Part.RETRY, Part.DEAD, Part.CLAIMS),
    ScriptName.CLAIM: (Part.PENDING, Part.QUEUED, Part.CLAIMS, Part.JOBS, Part.DEAD, Part.RETRY),
    ScriptName.CLAIM_USER: (
        Part.PENDING,
        Part.QUEUED,
        Part.CLAIMS,
        Part.JOBS,
        Part.DEAD,
        Part.RETRY,
    ),
    ScriptName.SETTLE: (Part.PENDING, Part.QUEUED, Part.CLAIMS, Part.JOBS, Part.RETRY, Part.DEAD),
    ScriptName.REAP: (Part.PENDING, Part.QUEUED, Part.CLAIMS, Part.JOBS, Part.RETRY, Part.DEAD),
    ScriptName.STATS: (Part.PENDING, Part.QUEUED, Part.CLAIMS, Part.RETRY, Part.DEAD),
    ScriptName.DEAD: (Part.PENDING, Part.QUEUED, Part.JOBS, Part.DEAD),
    ScriptName.RETRY_NOW: (Part.PENDING, Part.QUEUED, Part.RETRY),
}


@dataclass(frozen=True, slots=True)
class LuaScript:
    name: ScriptName
    source: str
    sha: str


@cache
def load(name: ScriptName) -> LuaScript:
    source = (LUA_DIR / f"{name.value}.lua").read_text(encoding="utf-8")
    return LuaScript(name=name, source=source, sha=hashlib.sha1(source.encode()).hexdigest())  # noqa: S324 - Redis names scripts by SHA-1


class QueueError(RuntimeError):
    """The queue's Redis answered with an error (the message names the script)."""


def run(redis: Redis, name: ScriptName, queue_keys: QueueKeys, args: list[str | int]) -> Any:
    """Run one script for one queue: one request (two when Redis has to learn the script)."""
    from upstash_redis.errors import UpstashError  # with the client, only once a call is made

    script = load(name)
    keys = [queue_keys.of(part) for part in KEY_PARTS[name]]
    str_args = [str(a) for a in args]
    try:
        try:
            return redis.evalsha(script.sha, keys=keys, args=str_args)
        except UpstashError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
            return redis.eval(script.source, keys=keys, args=str_args)
    except UpstashError as exc:
        raise QueueError(f"queue script {name.value} failed: {exc}") from exc
