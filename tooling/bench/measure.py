"""Measuring helpers: medians, Upstash usage (requests and billed commands), SQL queries."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event

from core.queue.scripts import LUA_DIR
from tooling.bench.report import UpstashUsage

if TYPE_CHECKING:
    import redis

    from tooling.upstash_local import LocalUpstash

# Commands the proxy itself sends when it opens a pooled connection to Redis; real Upstash has
# no such hop, so they are not billed. INFO is the meter's own reading.
NOT_BILLED = frozenset({"info", "client|setinfo", "client|setname", "hello", "select"})
# Every command Tally's queue can send: what its Lua scripts call (read from the scripts
# themselves, so a new script cannot make the bench cry wolf), the script calls, and the few
# commands `JobQueue` and the health check send directly. Anything else appearing in a measured
# window came from another client of the same Redis.
_LUA_CALL = re.compile(r"redis\.p?call\(\s*['\"]([A-Za-z]+)['\"]")
_DIRECT_COMMANDS = frozenset({"evalsha", "eval", "hmget", "zrange", "ping"})


def queue_commands(lua_dir: Path = LUA_DIR) -> frozenset[str]:
    called = {
        match.lower()
        for path in sorted(lua_dir.glob("*.lua"))
        for match in _LUA_CALL.findall(path.read_text())
    }
    return frozenset(called) | _DIRECT_COMMANDS


QUEUE_COMMANDS = queue_commands()
_SCRIPT_CALLS = ("evalsha", "eval")
_WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "TRUNCATE"})


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise ValueError("no samples")
    return float(statistics.median(samples))


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def timed(work: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class _Reading:
    requests: int
    local: dict[str, int]
    redis: dict[str, int]


class UpstashMeter:
    """Reads upstash_local's request counter and Redis `INFO commandstats` before and after work.

    Redis counts every command a Lua script runs, which is what Upstash bills; the proxy's
    counter gives the REST requests. Both are cumulative, so a window is the difference of two
    readings. The inspection client keeps one connection open, so its only command is INFO.
    """

    def __init__(self, server: LocalUpstash, raw: redis.Redis) -> None:
        self._server = server
        self._raw = raw

    def reading(self) -> _Reading:
        stats = self._server.stats()
        info: dict[str, Any] = self._raw.info("commandstats")
        calls = {
            name.removeprefix("cmdstat_").lower(): int(entry["calls"])
            for name, entry in info.items()
        }
        return _Reading(
            requests=stats["requests"],
            local={k.lower(): v for k, v in stats["by_command"].items()},
            redis=calls,
        )

    def since(self, before: _Reading, after: _Reading | None = None) -> UpstashUsage:
        after = after or self.reading()
        delta = {
            name: calls - before.redis.get(name, 0)
            for name, calls in after.redis.items()
            if name not in NOT_BILLED and calls != before.redis.get(name, 0)
        }
        scripts_seen = sum(delta.get(name, 0) for name in _SCRIPT_CALLS)
        scripts_sent = sum(
            after.local.get(name, 0) - before.local.get(name, 0) for name in _SCRIPT_CALLS
        )
        clean = scripts_seen == scripts_sent and set(delta) <= QUEUE_COMMANDS
        return UpstashUsage(
            requests=after.requests - before.requests,
            billed=sum(delta.values()),
            by_command=dict(sorted(delta.items())),
            clean=clean,
        )


def trusted(usages: Sequence[UpstashUsage]) -> list[UpstashUsage]:
    """The windows no other Redis client disturbed, or all of them when every one was."""
    clean = [usage for usage in usages if usage["clean"]]
    return clean or list(usages)


def _verb(query: str) -> str:
    head = query.lstrip().split(None, 1)
    return head[0].upper() if head else ""


@dataclass(slots=True)
class QueryCounter:
    """Counts the SQL queries, writes and new connections an engine sees while entered.

    The app under test may run requests on worker threads, hence the lock.
    """

    engine: Engine
    queries: int = 0
    writes: int = 0
    connections: int = 0
    verbs: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _on_execute(self, *args: Any) -> None:
        verb = _verb(str(args[2]))
        with self._lock:
            self.queries += 1
            self.verbs[verb] += 1
            if verb in _WRITE_VERBS:
                self.writes += 1

    def _on_connect(self, *_: Any) -> None:
        with self._lock:
            self.connections += 1

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        event.listen(self.engine, "connect", self._on_connect)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        event.remove(self.engine, "connect", self._on_connect)
