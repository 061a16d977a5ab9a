"""The local Upstash server, driven by the unchanged official SDK, on real Redis and embedded."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from upstash_redis import AsyncRedis, Redis
from upstash_redis.errors import UpstashError

from tooling.upstash_local import INJECTED_FAULT_MESSAGE, Faults, LocalUpstash, create_app
from tooling.upstash_local.server import bind_socket

REPO_ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("TALLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TOKEN = "test-local-upstash-token"
NON_ASCII = "€ café 日本"
ZERO_STATS = {
    "requests": 0,
    "commands": 0,
    "by_command": {},
    "errors_injected": 0,
    "dropped": 0,
    "auth_failures": 0,
}


def require_real_redis() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"real Redis at {REDIS_URL} is not reachable ({exc}); start it to run these"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return REDIS_URL


@dataclass
class Env:
    """One test's view of a shared server: its own key prefix and helpers around it."""

    server: LocalUpstash
    prefix: str
    http: httpx.Client

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def sdk(self, **options: Any) -> Redis:
        # Retries off by default: a fault must surface at once, not after a 3 s retry pause.
        options.setdefault("rest_retries", 0)
        return Redis(self.server.url, self.server.token, allow_telemetry=False, **options)

    def post(self, path: str, body: object, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.server.token}"}
        return self.http.post(f"{self.server.url}{path}", json=body, headers=headers)

    def local(self, method: str, path: str, body: object = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.server.token}"}
        url = f"{self.server.url}/_local/{path}"
        return self.http.request(method, url, json=body, headers=headers)

    def delete_keys(self) -> None:
        cursor = "0"
        while True:
            reply = self.post("/", ["SCAN", cursor, "MATCH", f"{self.prefix}*", "COUNT", 1000])
            cursor, keys = reply.json()["result"]
            if keys:
                self.post("/", ["DEL", *keys])
            if cursor == "0":
                return


@pytest.fixture(scope="module", params=["real-redis", "embedded"])
def server(request: pytest.FixtureRequest) -> Iterator[LocalUpstash]:
    redis_url = require_real_redis() if request.param == "real-redis" else None
    with LocalUpstash(redis_url=redis_url, token=TOKEN) as local:
        yield local


@pytest.fixture
def env(server: LocalUpstash) -> Iterator[Env]:
    server.clear_faults()
    server.reset_stats()
    with httpx.Client() as http:
        test_env = Env(server=server, prefix=f"t-{uuid.uuid4().hex}:", http=http)
        yield test_env
        server.clear_faults()
        test_env.delete_keys()


# --- data types, through the sync SDK -----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["base64", None])
def test_non_ascii_strings_round_trip(env: Env, encoding: str | None) -> None:
    client = env.sdk(rest_encoding=encoding)
    key = env.key(f"text-{NON_ASCII}")
    assert client.set(key, NON_ASCII)  # the SDK returns True; its stub says str
    assert client.get(key) == NON_ASCII
    assert client.strlen(key) == len(NON_ASCII.encode())
    assert client.get(env.key("missing")) is None


def test_list_commands(env: Env) -> None:
    client = env.sdk()
    jobs, done = env.key("jobs"), env.key("done")
    assert client.rpush(jobs, "a", "b", "c", "b", NON_ASCII) == 5
    assert client.lpop(jobs, 2) == ["a", "b"]
    assert client.lmove(jobs, done, "LEFT", "RIGHT") == "c"
    assert client.lrange(jobs, 0, -1) == ["b", NON_ASCII]
    assert client.lpos(jobs, NON_ASCII) == 1
    assert client.lpos(jobs, "nope") is None
    assert client.llen(done) == 1
    assert client.lrem(jobs, 0, "b") == 1
    assert client.lpop(env.key("empty"), 3) is None


def test_sets_sorted_sets_and_hashes(env: Env) -> None:
    client = env.sdk()
    tags, board, user = env.key("tags"), env.key("board"), env.key("user")
    assert client.sadd(tags, "x", "y", NON_ASCII) == 3
    assert set(client.smembers(tags)) == {"x", "y", NON_ASCII}
    assert client.sismember(tags, NON_ASCII) is True
    assert client.srem(tags, "x") == 1
    assert client.zadd(board, {"ann": 1.5, "bob": 2}) == 2
    assert client.zincrby(board, 1, "ann") == 2.5
    assert client.zrange(board, 0, -1, withscores=True) == [("bob", 2.0), ("ann", 2.5)]
    assert client.zscore(board, "nobody") is None
    assert client.hset(user, values={"name": NON_ASCII, "visits": "1"}) == 2
    assert client.hincrby(user, "visits", 2) == 3
    assert client.hgetall(user) == {"name": NON_ASCII, "visits": "3"}
    assert client.hdel(user, "name") == 1


def test_expire_and_ttl(env: Env) -> None:
    client = env.sdk()
    key = env.key("lease")
    client.set(key, "held")
    assert client.ttl(key) == -1
    assert client.expire(key, 100) is True
    assert 90 <= client.ttl(key) <= 100
    assert client.ttl(env.key("missing")) == -2


def test_scripts_eval_evalsha_and_noscript(env: Env) -> None:
    client = env.sdk()
    script = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 7}"
    key = env.key("scripted")
    assert client.eval(script, keys=[key], args=[NON_ASCII]) == [NON_ASCII, 7]
    sha = client.script_load(script)
    assert len(sha) == 40
    assert client.evalsha(sha, keys=[key], args=["again"]) == ["again", 7]
    with pytest.raises(UpstashError, match=r"^NOSCRIPT"):
        client.evalsha("0" * 40, keys=[key])
    with pytest.raises(UpstashError, match="boom"):
        client.eval("return redis.error_reply('boom')")


def test_pipeline_and_multi_exec(env: Env) -> None:
    client = env.sdk()
    counter, text = env.key("n"), env.key("text")
    pipe = client.pipeline()
    pipe.incr(counter)
    pipe.set(text, NON_ASCII)
    pipe.get(text)
    pipe.hset(env.key("h"), "f", "v")
    assert pipe.exec() == [1, True, NON_ASCII, 1]
    tx = client.multi()
    tx.incr(counter)
    tx.rpush(env.key("list"), "a", "b")
    tx.lrange(env.key("list"), 0, -1)
    assert tx.exec() == [2, 2, ["a", "b"]]


def test_async_client(env: Env) -> None:
    async def scenario() -> None:
        client = AsyncRedis(env.server.url, env.server.token, rest_retries=0)
        key = env.key("async")
        assert await client.set(key, NON_ASCII)
        assert await client.get(key) == NON_ASCII
        assert await client.ping() == "PONG"
        pipe = client.pipeline()
        pipe.incr(env.key("n"))
        pipe.get(key)
        assert await pipe.exec() == [1, NON_ASCII]
        tx = client.multi()
        tx.incr(env.key("n"))
        tx.type(key)
        assert await tx.exec() == [2, "string"]
        assert await client.eval("return ARGV[1]", args=[NON_ASCII]) == NON_ASCII
        with pytest.raises(UpstashError, match="WRONGTYPE"):
            await client.lpush(key, "x")

    asyncio.run(scenario())


def test_status_replies_and_server_commands_under_base64(env: Env) -> None:
    client = env.sdk()  # the SDK asks for base64 by default
    assert client.ping() == "PONG"
    assert client.ping("hi") == "hi"
    client.set(env.key("s"), "v")
    client.rpush(env.key("l"), "v")
    assert client.type(env.key("s")) == "string"
    assert client.type(env.key("l")) == "list"
    assert client.type(env.key("missing")) == "none"
    info = client.execute(["INFO"])
    assert isinstance(info, str)
    assert "redis_version:" in info
    _, keys = client.scan(0, match=f"{env.prefix}*", count=1000)
    assert sorted(keys) == [env.key("l"), env.key("s")]
    assert client.delete(env.key("s"), env.key("l")) == 2


# --- errors and the HTTP surface ----------------------------------------------------------------


def test_redis_error_is_upstash_error_and_400(env: Env) -> None:
    client = env.sdk()
    key = env.key("str")
    client.set(key, "v")
    with pytest.raises(UpstashError, match=r"^WRONGTYPE"):
        client.lpush(key, "x")
    single = env.post("/", ["LPUSH", key, "x"])
    assert single.status_code == 400
    assert single.json()["error"].startswith("WRONGTYPE")
    # In a pipeline each command stands alone: the error fills its slot, the rest still run.
    pipe = env.post("/pipeline", [["INCR", env.key("n")], ["LPUSH", key, "x"], ["GET", key]])
    assert pipe.status_code == 200
    first, second, third = pipe.json()
    assert first == {"result": 1}
    assert second["error"].startswith("WRONGTYPE")
    assert third == {"result": "v"}


def test_multi_exec_runs_everything_or_nothing(env: Env) -> None:
    key = env.key("str")
    env.post("/", ["SET", key, "v"])
    # A runtime error inside EXEC fails only its slot (Redis does not roll back).
    ran = env.post("/multi-exec", [["INCR", env.key("n")], ["LPUSH", key, "x"]])
    assert ran.status_code == 200
    assert ran.json()[0] == {"result": 1}
    assert ran.json()[1]["error"].startswith("WRONGTYPE")
    # A command Redis refuses while queueing discards the whole transaction.
    aborted = env.post("/multi-exec", [["INCR", env.key("n")], ["NOSUCHCOMMAND"]])
    assert aborted.status_code == 400
    assert aborted.json()["error"].startswith("EXECABORT")
    assert env.post("/", ["GET", env.key("n")]).json() == {"result": "1"}


def test_wrong_or_missing_token_is_401(env: Env) -> None:
    with pytest.raises(UpstashError, match="Unauthorized"):
        Redis(env.server.url, "wrong-token", rest_retries=0).get(env.key("k"))
    wrong = env.post("/", ["PING"], token="wrong-token")
    missing = httpx.post(f"{env.server.url}/pipeline", json=[["PING"]])
    local = httpx.get(f"{env.server.url}/_local/stats")
    for response in (wrong, missing, local):
        assert response.status_code == 401
        assert response.json() == {"error": "Unauthorized"}
    stats = env.server.stats()
    assert stats["auth_failures"] == 4
    assert stats["requests"] == 0


def test_base_url_with_trailing_slash(env: Env) -> None:
    client = Redis(env.server.url + "/", env.server.token, rest_retries=0)
    assert client.set(env.key("k"), "v")
    pipe = client.pipeline()
    pipe.get(env.key("k"))
    assert pipe.exec() == ["v"]
    tx = client.multi()
    tx.get(env.key("k"))
    assert tx.exec() == ["v"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/", b"not json"),
        ("/", b'{"command": "PING"}'),
        ("/", b"[]"),
        ("/", b'["SET", "k", {"nested": 1}]'),
        ("/pipeline", b'["PING"]'),
        ("/multi-exec", b"{}"),
    ],
)
def test_malformed_bodies_are_400(env: Env, path: str, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {env.server.token}"}
    response = httpx.post(f"{env.server.url}{path}", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]


def test_commands_that_would_change_the_connection_are_refused(env: Env) -> None:
    response = env.post("/pipeline", [["SELECT", "1"], ["PING"]])
    assert response.json()[0]["error"].startswith("ERR command 'SELECT'")
    assert response.json()[1] == {"result": "PONG"}
    assert env.post("/multi-exec", [["PING"], ["WATCH", "x"]]).status_code == 400


def test_concurrent_clients(env: Env) -> None:
    key = env.key("counter")

    def worker() -> None:
        client = env.sdk()
        for _ in range(25):
            client.incr(key)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert env.sdk().get(key) == "200"


# --- counters -----------------------------------------------------------------------------------


def test_counters_are_exact_and_reset(env: Env) -> None:
    client = env.sdk()
    client.set(env.key("a"), "1")
    pipe = client.pipeline()
    pipe.incr(env.key("a"))
    pipe.incr(env.key("a"))
    pipe.get(env.key("a"))
    pipe.exec()
    tx = client.multi()
    tx.lpop(env.key("l"))
    tx.get(env.key("a"))
    tx.exec()
    expected = {
        "requests": 3,
        "commands": 6,
        "by_command": {"SET": 1, "INCR": 2, "GET": 2, "LPOP": 1},
        "errors_injected": 0,
        "dropped": 0,
        "auth_failures": 0,
    }
    assert env.server.stats() == expected
    assert env.local("GET", "stats").json() == expected
    env.server.reset_stats()
    assert env.server.stats() == ZERO_STATS
    client.ping()
    assert env.local("POST", "stats/reset").status_code == 200
    assert env.local("GET", "stats").json() == ZERO_STATS


# --- faults -------------------------------------------------------------------------------------


def test_error_rate_fails_every_request_and_runs_nothing(env: Env) -> None:
    client = env.sdk()
    env.server.set_faults(error_rate=1.0)
    with pytest.raises(UpstashError, match=INJECTED_FAULT_MESSAGE):
        client.incr(env.key("n"))
    response = env.post("/pipeline", [["INCR", env.key("n")], ["INCR", env.key("n")]])
    assert response.status_code == 500
    assert response.json() == {"error": INJECTED_FAULT_MESSAGE}
    stats = env.server.stats()
    assert (stats["requests"], stats["commands"], stats["errors_injected"]) == (2, 0, 2)
    env.server.clear_faults()
    assert client.get(env.key("n")) is None


def test_latency_delays_every_request(env: Env) -> None:
    client = env.sdk()
    env.server.set_faults(latency_seconds=0.2)
    started = time.monotonic()
    assert client.ping() == "PONG"
    assert time.monotonic() - started >= 0.2


def test_dropped_response_ran_but_never_arrives(env: Env) -> None:
    key = env.key("n")
    env.server.set_faults(drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        env.sdk().incr(key)
    assert env.server.stats()["dropped"] == 1
    # The SDK re-sends after a lost response: a non-idempotent command then runs once per attempt.
    with pytest.raises(httpx.TransportError):
        env.sdk(rest_retries=2, rest_retry_interval=0).incr(key)
    env.server.clear_faults()
    assert env.sdk().get(key) == "4"
    assert env.server.stats()["dropped"] == 4


def test_faults_changed_at_run_time_with_set_faults(env: Env) -> None:
    client = env.sdk()
    assert client.ping() == "PONG"
    env.server.set_faults(error_rate=1.0)
    with pytest.raises(UpstashError):
        client.ping()
    env.server.set_faults(drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        client.ping()
    env.server.clear_faults()
    assert client.ping() == "PONG"
    assert env.server.faults == Faults()


def test_faults_over_http_leave_control_endpoints_alone(env: Env) -> None:
    client = env.sdk()
    settings = {"error_rate": 1.0, "latency_seconds": 0.0, "drop_rate": 1.0, "seed": 3}
    assert env.local("PUT", "faults", settings).json() == settings
    assert env.local("GET", "faults").json() == settings
    with pytest.raises(UpstashError, match=INJECTED_FAULT_MESSAGE):
        client.ping()
    assert env.local("GET", "stats").json()["errors_injected"] == 1
    assert env.local("PUT", "faults", {"error_rate": 2}).status_code == 400
    assert env.local("PUT", "faults", {"bogus": 1}).status_code == 400
    assert env.local("PUT", "faults", {}).json()["error_rate"] == 0.0
    assert client.ping() == "PONG"


def test_seeded_faults_are_reproducible(env: Env) -> None:
    def outcomes() -> list[int]:
        env.server.set_faults(error_rate=0.5, seed=42)
        return [env.post("/", ["PING"]).status_code for _ in range(20)]

    first = outcomes()
    assert first == outcomes()
    assert {200, 500} == set(first)


def test_fault_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="latency_seconds"):
        Faults(latency_seconds=-1)


# --- the app on its own, and the CLI ------------------------------------------------------------


def test_create_app_works_in_process() -> None:
    async def scenario() -> None:
        transport = httpx.ASGITransport(app=create_app(TOKEN))
        headers = {"Authorization": f"Bearer {TOKEN}", "Upstash-Encoding": "base64"}
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            reply = await client.post("/", json=["SET", "k", NON_ASCII], headers=headers)
            assert reply.json() == {"result": "T0s="}
            reply = await client.post("/pipeline", json=[["GET", "k"], ["PING"]], headers=headers)
            assert [slot["result"] for slot in reply.json()] == [
                base64.b64encode(NON_ASCII.encode()).decode(),
                "UE9ORw==",  # PONG
            ]
            unauthorized = await client.post("/", json=["GET", "k"])
            assert unauthorized.status_code == 401

    asyncio.run(scenario())


def test_listening_socket_is_tcp_so_replies_are_not_delayed() -> None:
    # asyncio sets TCP_NODELAY on accepted sockets only when the listener's proto is TCP;
    # without it each reply stalls ~40 ms on a delayed ACK and benchmarks crawl.
    with bind_socket("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_ping(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        try:
            client = Redis(url, "cli-token", rest_retries=0)
            assert client.ping() == "PONG"
            return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"the CLI never answered PING on {url}")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_and_stops_on_signal(stop_signal: signal.Signals) -> None:
    port = free_port()
    command = [sys.executable, "scripts/upstash_local.py", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--token", "cli-token"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_ping(f"http://127.0.0.1:{port}", process)
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}" in stdout
    assert "cli-token" in stdout
    assert "Traceback" not in stderr


def test_unreachable_redis_is_502() -> None:
    with LocalUpstash(redis_url="redis://127.0.0.1:1/0", token=TOKEN) as local:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = httpx.post(local.url, json=["PING"], headers=headers)
    assert response.status_code == 502
    assert "Redis" in response.json()["error"]
