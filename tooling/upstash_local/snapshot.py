"""The embedded Redis kept on disk, so `make dev` restarts with its queue, retries and dead letters.

A snapshot is one Lua call (atomic: the server runs nothing else meanwhile, so the file never
shows an id half-way between two keys), written as JSON to a temporary file and renamed into
place. `Snapshots` takes one every `interval_seconds` when the data changed, and a last one on
shutdown; after a hard kill at most one interval of changes is lost. Keys with a TTL keep their
absolute expiry. Values are base64, since Redis strings are bytes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakeredis import FakeServer

log = logging.getLogger("tally.upstash_local")

FORMAT_VERSION = 1
DEFAULT_INTERVAL_SECONDS = 1.0

# Reads every key with its type, remaining TTL (ms, -1 for none) and contents.
_DUMP = """
local out = {}
for _, key in ipairs(redis.call('KEYS', '*')) do
  local kind = redis.call('TYPE', key)['ok']
  local body = {}
  if kind == 'string' then body = {redis.call('GET', key)}
  elseif kind == 'list' then body = redis.call('LRANGE', key, 0, -1)
  elseif kind == 'set' then body = redis.call('SMEMBERS', key)
  elseif kind == 'zset' then body = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  elseif kind == 'hash' then body = redis.call('HGETALL', key)
  end
  out[#out + 1] = {key, kind, redis.call('PTTL', key), body}
end
return out
"""


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _unb64(value: str) -> bytes:
    return base64.b64decode(value.encode("ascii"))


def dump(server: FakeServer) -> dict[str, Any]:
    """Every key of the embedded server, as a JSON-ready document."""
    from fakeredis import FakeRedis

    client = FakeRedis(server=server)
    now_ms = int(time.time() * 1000)
    keys = []
    for name, kind, ttl, body in client.eval(_DUMP, 0):
        keys.append(
            {
                "key": _b64(name),
                "type": kind.decode(),
                "expires_at_ms": now_ms + int(ttl) if int(ttl) >= 0 else None,
                "values": [_b64(v) for v in body],
            }
        )
    return {"version": FORMAT_VERSION, "keys": keys}


def restore(server: FakeServer, document: dict[str, Any]) -> int:
    """Load a snapshot into an empty server; returns how many keys came back."""
    from fakeredis import FakeRedis

    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"unknown snapshot version {document.get('version')!r}")
    client = FakeRedis(server=server)
    now_ms = int(time.time() * 1000)
    pipe = client.pipeline(transaction=True)
    restored = 0
    for entry in document["keys"]:
        expires = entry["expires_at_ms"]
        if expires is not None and expires <= now_ms:
            continue  # expired while the server was down
        name = _unb64(entry["key"])
        values = [_unb64(v) for v in entry["values"]]
        kind = entry["type"]
        if kind == "string":
            pipe.set(name, values[0])
        elif kind == "list":
            pipe.rpush(name, *values)
        elif kind == "set":
            pipe.sadd(name, *values)
        elif kind == "zset":
            pipe.zadd(name, {m: float(s) for m, s in zip(values[::2], values[1::2], strict=True)})
        elif kind == "hash":
            pipe.hset(name, mapping=dict(zip(values[::2], values[1::2], strict=True)))
        else:
            continue  # a type the queue never uses (streams): not worth keeping in dev
        if expires is not None:
            pipe.pexpireat(name, expires)
        restored += 1
    pipe.execute()
    return restored


class Snapshots:
    """Keeps `path` up to date with the embedded server, from a daemon thread."""

    def __init__(
        self, server: FakeServer, path: Path, interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    ) -> None:
        self.server = server
        self.path = path
        self.interval_seconds = interval_seconds
        self._last = b""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def load(self) -> int:
        """Restore the file's keys, if there is a file; returns how many came back."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        count = restore(self.server, json.loads(raw))
        self._last = raw
        log.info("upstash_local: restored %d keys from %s", count, self.path)
        return count

    def save(self) -> bool:
        """Write a snapshot if anything changed since the last; True when it wrote."""
        with self._lock:
            raw = json.dumps(dump(self.server), sort_keys=True).encode()
            if raw == self._last:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_bytes(raw)
            os.replace(temporary, self.path)
            self._last = raw
            return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="upstash-snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and take the last snapshot."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.save()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.save()
            except Exception as exc:  # noqa: BLE001 - a full disk must not stop the server
                log.warning("upstash_local: snapshot failed (%s)", type(exc).__name__)
