"""Forwarding Upstash commands to Redis: a real server over redis-py, or an embedded fakeredis.

Commands go over a raw pooled connection (`send_packed_command` / `read_response`), never through
`redis.Redis.execute_command`: its per-command response callbacks would turn PING into `True`
and HGETALL into a dict, and its retries could run a non-idempotent command twice.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import redis.asyncio
from redis.exceptions import RedisError, ResponseError

from tooling.upstash_local import embedded
from tooling.upstash_local.embedded import Rewrite
from tooling.upstash_local.protocol import Command, Reply, ReplyError

if TYPE_CHECKING:
    from fakeredis import FakeServer
    from redis.asyncio.connection import AbstractConnection, ConnectionPool

# A pooled connection must stay a plain request/reply channel for whoever takes it next, so
# commands that change its state (or never reply) are refused instead of forwarded.
REFUSED_COMMANDS = frozenset(
    {
        "AUTH",
        "CLIENT",
        "DISCARD",
        "EXEC",
        "HELLO",
        "MONITOR",
        "MULTI",
        "PSUBSCRIBE",
        "PUNSUBSCRIBE",
        "QUIT",
        "RESET",
        "SELECT",
        "SSUBSCRIBE",
        "SUBSCRIBE",
        "SUNSUBSCRIBE",
        "SYNC",
        "PSYNC",
        "UNSUBSCRIBE",
        "UNWATCH",
        "WATCH",
    }
)
# Upper bound on Redis connections per event loop; a benchmark with thousands of concurrent
# HTTP requests queues for a connection instead of exhausting the server's client limit.
MAX_CONNECTIONS = 128
POOL_WAIT_SECONDS = 30.0

# fakeredis has no INFO; callers only look for a version and a mode, so a fixed text will do.
EMBEDDED_INFO = (
    b"# Server\r\nredis_version:7.4.0\r\nredis_mode:standalone\r\n"
    b"server_name:upstash_local-embedded\r\n\r\n# Clients\r\nconnected_clients:1\r\n\r\n"
    b"# Memory\r\nused_memory:0\r\n"
)


class BackendUnavailable(RuntimeError):
    """Redis could not be reached or the connection broke mid-request (HTTP 502)."""


class RedisBackend:
    """Runs commands on one Redis; safe to share between threads and event loops.

    An asyncio connection pool belongs to the loop that created it, so there is one pool per
    running loop (uvicorn has one; a test client may start several). The embedded server is one
    `FakeServer`, which serialises commands under its own lock, shared by all of them.
    """

    def __init__(self, redis_url: str | None = None) -> None:
        self._redis_url = redis_url
        self._fake_server: FakeServer | None = None
        if redis_url is None:
            from fakeredis import FakeServer

            self._fake_server = FakeServer()
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ConnectionPool] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        return self._fake_server is not None

    @property
    def fake_server(self) -> FakeServer | None:
        """The embedded server (None in front of a real Redis), for snapshots."""
        return self._fake_server

    async def run(self, commands: Sequence[Command]) -> list[Reply]:
        """Run independent commands in one round trip; each gets its own reply or error."""
        local = [self._local_reply(command) for command in commands]
        forwarded = [command for command, reply in zip(commands, local, strict=True) if not reply]
        replies = iter(await self._round_trip(forwarded)) if forwarded else iter(())
        return [reply[0] if reply else next(replies) for reply in local]

    async def _embedded_round_trip(self, commands: Sequence[Command]) -> list[Reply]:
        """fakeredis with its differences from Redis corrected (see `embedded`)."""
        rewritten = [embedded.rewrite(command, self._scripts()) for command in commands]
        sent = [part for item in rewritten if isinstance(item, Rewrite) for part in item.commands]
        replies = await self._raw_round_trip(sent) if sent else []
        return _regroup(commands, rewritten, replies)

    def _scripts(self) -> dict[bytes, bytes]:
        scripts: dict[bytes, bytes] = getattr(self._fake_server, "script_cache", {})
        return scripts

    async def run_atomic(self, commands: Sequence[Command]) -> list[Reply] | ReplyError:
        """Run commands inside MULTI/EXEC; a queueing error discards the whole transaction.

        The embedded INFO is answered outside Redis, so it is not available inside a transaction.
        """
        for command in commands:
            refused = self._local_reply(command)
            if refused and isinstance(refused[0], ReplyError):
                return refused[0]
        rewritten = [
            embedded.rewrite(command, self._scripts()) if self.embedded else Rewrite([command])
            for command in commands
        ]
        bad = next((item for item in rewritten if isinstance(item, ReplyError)), None)
        if bad is not None:
            return ReplyError(f"EXECABORT Transaction discarded because of: {bad.message}")
        inner = [part for item in rewritten if isinstance(item, Rewrite) for part in item.commands]
        replies = await self._raw_round_trip([["MULTI"], *inner, ["EXEC"]])
        outcome = replies[-1]
        if isinstance(outcome, ReplyError):
            queued = (reply for reply in replies[1:-1] if isinstance(reply, ReplyError))
            cause = next(queued, None)
            return ReplyError(f"{outcome.message} ({cause.message})" if cause else outcome.message)
        if not isinstance(outcome, list):
            return ReplyError(f"ERR unexpected EXEC reply {outcome!r}")
        if not self.embedded:
            return outcome
        return _regroup(commands, rewritten, outcome)

    async def aclose(self) -> None:
        """Close the current loop's pool (the others go with their loops)."""
        with self._lock:
            pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.disconnect()

    def _local_reply(self, command: Command) -> tuple[Reply] | tuple[()]:
        """Answer a command here instead of in Redis: `(reply,)`, or `()` to forward it.

        A 1-tuple rather than an optional reply, because `None` is itself a reply (nil).
        """
        name = command[0].upper()
        if name in REFUSED_COMMANDS:
            return (ReplyError(f"ERR command '{name}' is not supported by upstash_local"),)
        if name == "INFO" and self.embedded:
            return (EMBEDDED_INFO,)
        return ()

    async def _round_trip(self, commands: Sequence[Command]) -> list[Reply]:
        if self.embedded:
            return await self._embedded_round_trip(commands)
        return await self._raw_round_trip(commands)

    async def _raw_round_trip(self, commands: Sequence[Command]) -> list[Reply]:
        pool = self._pool()
        try:
            conn = await pool.get_connection()  # type: ignore[no-untyped-call]  # untyped upstream
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"cannot connect to Redis: {exc}") from exc
        try:
            # One write for the whole batch: a pipeline costs one network round trip to Redis.
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
            return [await _read_reply(conn) for _ in commands]
        except (RedisError, OSError) as exc:
            # Replies may still be in flight; this connection must not serve anyone else.
            await conn.disconnect()
            raise BackendUnavailable(f"Redis connection failed: {exc}") from exc
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)

    def _pool(self) -> ConnectionPool:
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._pools.get(loop)
            if pool is None:
                pool = self._new_pool()
                self._pools[loop] = pool
            return pool

    def _new_pool(self) -> ConnectionPool:
        if self._fake_server is None:
            assert self._redis_url is not None
            # RESP2 is what the Upstash REST API speaks: flat arrays, scores as strings.
            return redis.asyncio.BlockingConnectionPool.from_url(
                self._redis_url,
                protocol=2,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_WAIT_SECONDS,
            )
        from fakeredis import FakeAsyncRedis

        client = FakeAsyncRedis(server=self._fake_server, protocol=2)
        pool: ConnectionPool = client.connection_pool
        return pool


def _regroup(
    commands: Sequence[Command], rewritten: Sequence[Rewrite | ReplyError], replies: list[Reply]
) -> list[Reply]:
    """One reply per command the client sent, from the replies of what fakeredis ran."""
    out: list[Reply] = []
    position = 0
    for command, item in zip(commands, rewritten, strict=True):
        if isinstance(item, ReplyError):
            out.append(item)
            continue
        group = replies[position : position + len(item.commands)]
        position += len(item.commands)
        out.append(embedded.adapt(command, embedded.group_reply(group), item.paths))
    return out


async def _read_reply(conn: AbstractConnection) -> Reply:
    try:
        raw: object = await conn.read_response()
    except RedisError as exc:
        if not _is_error_reply(exc):
            raise
        return ReplyError(_error_text(exc))
    return _to_reply(raw)


def _is_error_reply(exc: RedisError) -> bool:
    # redis-py raises a server's error reply as ResponseError, or (for a few texts such as
    # "ERR max number of clients reached") as another RedisError that carries the status code.
    return isinstance(exc, ResponseError) or exc.status_code is not None


def _error_text(exc: RedisError) -> str:
    """The error exactly as Redis sent it: redis-py strips known prefixes like NOSCRIPT."""
    message = str(exc)
    return f"{exc.status_code} {message}" if exc.status_code else message


def _to_reply(raw: object) -> Reply:
    """Bring a parsed reply into RESP2 shape (fakeredis may hand over richer Python types)."""
    if raw is None or isinstance(raw, bytes):
        return raw
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, RedisError):
        return ReplyError(_error_text(raw))
    if isinstance(raw, float):
        text = repr(raw)
        return text.removesuffix(".0").encode()
    if isinstance(raw, dict):
        return [_to_reply(part) for pair in raw.items() for part in pair]
    if isinstance(raw, list | tuple | set | frozenset):
        return [_to_reply(item) for item in raw]
    return str(raw).encode()
