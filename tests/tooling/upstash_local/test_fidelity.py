"""The local Upstash where it used to differ from the real service, through the official SDK.

Reply shapes follow the SDK's own test suite (what the SDK returns against Upstash itself).
Commands that only the embedded backend got wrong also run against a real Redis, which is the
reference; JSON needs a Redis with the JSON module, and is skipped on one without it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from upstash_redis import Redis
from upstash_redis.errors import UpstashError
from upstash_redis.typing import JSONValueT

from tests.tooling.upstash_local.test_server import TOKEN, require_real_redis
from tooling.upstash_local import LocalUpstash


@pytest.fixture(scope="module", params=["real-redis", "embedded"])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    return require_real_redis() if request.param == "real-redis" else None


@pytest.fixture(scope="module")
def server(backend_url: str | None) -> Iterator[LocalUpstash]:
    with LocalUpstash(redis_url=backend_url, token=TOKEN) as local:
        yield local


def sdk(server: LocalUpstash, **options: Any) -> Redis:
    return Redis(server.url, server.token, allow_telemetry=False, rest_retries=0, **options)


@pytest.fixture
def prefix() -> str:
    return f"fid-{uuid.uuid4().hex}:"


@pytest.fixture
def json_client(server: LocalUpstash, backend_url: str | None) -> Redis:
    if backend_url is not None:
        modules = redis.Redis.from_url(backend_url).module_list()
        if "rejson" not in repr(modules).lower():
            pytest.skip(f"the Redis at {backend_url} has no JSON module to pass JSON.* to")
    return sdk(server)


# --- Upstash-Sync-Token -------------------------------------------------------------------------


def post(server: LocalUpstash, command: list[Any], **headers: str) -> httpx.Response:
    return httpx.post(
        server.url, json=command, headers={"Authorization": f"Bearer {TOKEN}", **headers}
    )


def test_every_answer_carries_a_sync_token_that_moves_on_writes(
    server: LocalUpstash, prefix: str
) -> None:
    first = post(server, ["SET", f"{prefix}a", "1"]).headers["upstash-sync-token"]
    second = post(server, ["SET", f"{prefix}a", "2"], **{"Upstash-Sync-Token": first})

    assert first
    assert second.status_code == 200
    assert second.headers["upstash-sync-token"] != first


def test_the_sdk_reads_its_writes_with_the_token(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server, read_your_writes=True)

    client.set(f"{prefix}k", "v")

    assert client._sync_token  # the SDK took the header up and sends it from now on
    assert client.get(f"{prefix}k") == "v"


def test_an_empty_or_odd_sync_token_on_a_request_is_accepted(server: LocalUpstash) -> None:
    for value in ("", "not-a-number"):
        assert post(server, ["PING"], **{"Upstash-Sync-Token": value}).json() == {"result": "PONG"}


# --- expiry to the millisecond (the embedded backend rounded to whole seconds) ----------------


def test_setex_and_psetex_expire_to_the_millisecond(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)

    client.setex(f"{prefix}s", 10, "v")
    client.psetex(f"{prefix}p", 100_999, "v")

    assert 9_500 <= client.pttl(f"{prefix}s") <= 10_000  # not up to a second short
    # In whole seconds 100,999 ms would read 100,000 or 101,000; a second's grace for load.
    assert 100_000 < client.pttl(f"{prefix}p") <= 100_999
    assert client.get(f"{prefix}p") == "v"


def test_ttl_rounds_to_the_nearest_second(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    client.psetex(f"{prefix}r", 9_700, "v")

    assert client.ttl(f"{prefix}r") == 10
    assert client.ttl(f"{prefix}missing") == -2
    client.set(f"{prefix}forever", "v")
    assert client.ttl(f"{prefix}forever") == -1


def test_getex_sets_an_expiry_to_the_millisecond(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    client.set(f"{prefix}g", "v")

    assert client.getex(f"{prefix}g", ex=10) == "v"
    assert client.ttl(f"{prefix}g") == 10
    assert 9_500 <= client.pttl(f"{prefix}g") <= 10_000  # not up to a second short
    # Kept in whole seconds, 100,999 ms would read 100,000 or 101,000: strictly between is
    # milliseconds, with up to a second for a loaded machine to answer.
    client.getex(f"{prefix}g", px=100_999)
    assert 100_000 < client.pttl(f"{prefix}g") <= 100_999
    client.getex(f"{prefix}g", persist=True)
    assert client.ttl(f"{prefix}g") == -1


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["SETEX", "k", "0", "v"], "invalid expire time"),
        (["PSETEX", "k", "-5", "v"], "invalid expire time"),
        (["SETEX", "k", "ten", "v"], "not an integer"),
        (["PSETEX", "k", "10"], "wrong number of arguments"),
    ],
)
def test_setex_arguments_are_checked_as_redis_does(
    server: LocalUpstash, prefix: str, command: list[str], message: str
) -> None:
    command = [command[0], f"{prefix}{command[1]}", *command[2:]]

    reply = post(server, command)

    assert reply.status_code == 400
    assert message in reply.json()["error"]


# --- TOUCH, read-only scripts, ZRANDMEMBER ------------------------------------------------------


def test_touch_counts_the_keys_that_exist(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    client.set(f"{prefix}a", "1")
    client.set(f"{prefix}b", "2")

    assert client.touch(f"{prefix}a", f"{prefix}b", f"{prefix}missing") == 2


def test_read_only_scripts(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    client.set(f"{prefix}a", "hello")
    script = "return redis.call('GET', KEYS[1])"
    sha = client.script_load(script)

    assert client.eval_ro(script, keys=[f"{prefix}a"]) == "hello"
    assert client.evalsha_ro(sha, keys=[f"{prefix}a"]) == "hello"
    with pytest.raises(UpstashError, match="NOSCRIPT"):
        client.evalsha_ro("0" * 40, keys=[f"{prefix}a"])


def test_a_read_only_script_may_not_write(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    writer = "return redis.call('SET', KEYS[1], 'x')"
    sha = client.script_load(writer)

    with pytest.raises(UpstashError, match=r"Write commands are not allowed"):
        client.eval_ro(writer, keys=[f"{prefix}a"])
    with pytest.raises(UpstashError, match=r"Write commands are not allowed"):
        client.evalsha_ro(sha, keys=[f"{prefix}a"])
    assert client.exists(f"{prefix}a") == 0
    assert client.eval(writer, keys=[f"{prefix}a"]) == "OK"  # the same script may write as EVAL


def test_an_eval_ro_script_can_then_run_by_its_sha(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    script = f"return 'ro-{prefix}'"
    assert client.eval_ro(script) == f"ro-{prefix}"

    assert client.script_exists(
        hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
    ) == [True]


def test_read_only_scripts_in_a_transaction(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    client.set(f"{prefix}a", "v")
    tx = client.multi()
    tx.eval_ro("return redis.call('GET', KEYS[1])", keys=[f"{prefix}a"])
    tx.touch(f"{prefix}a")
    tx.zrandmember(f"{prefix}none")

    assert tx.exec() == ["v", 1, None]


def test_zrandmember_without_a_count_is_one_member(server: LocalUpstash, prefix: str) -> None:
    client = sdk(server)
    board = f"{prefix}board"
    client.zadd(board, {"ann": 1})

    assert client.zrandmember(board) == "ann"
    assert client.zrandmember(board, 1) == ["ann"]
    assert client.zrandmember(board, 1, withscores=True) == [("ann", 1.0)]
    assert client.zrandmember(f"{prefix}none") is None
    assert post(server, ["ZRANDMEMBER", board]).json() == {"result": "ann"}


# --- JSON ---------------------------------------------------------------------------------------

DOC: dict[str, JSONValueT] = {
    "int": 1,
    "str": "test",
    "array": [1, 2, 3, 4],
    "object": {"int": 2, "array": [1, 2, 3]},
}


def test_json_set_and_get_shapes(json_client: Redis, prefix: str) -> None:
    key = f"{prefix}doc"
    assert json_client.json.set(key, "$", DOC) is True

    assert json_client.json.get(key) == [DOC]
    assert json_client.json.get(key, "$.array") == [[1, 2, 3, 4]]
    assert json_client.json.get(key, "$.missing") == []
    assert json_client.json.get(key, "$.array", "$.int") == {
        "$.array": [[1, 2, 3, 4]],
        "$.int": [1],
    }
    assert json_client.json.get(f"{prefix}none") is None


def test_json_numbers_and_mget(json_client: Redis, prefix: str) -> None:
    a, b = f"{prefix}a", f"{prefix}b"
    json_client.json.set(a, "$", DOC)
    json_client.json.set(b, "$", {**DOC, "int": 2})

    assert json_client.json.numincrby(a, "$.int", 1) == [2]
    assert json_client.json.numincrby(a, "$..int", 1) == [3, 3]
    assert json_client.json.numincrby(a, "$.str", 1) == [None]
    assert json_client.json.nummultby(b, "$.int", 3) == [6]
    assert json_client.json.mget([a, b], "$.int") == [[3], [6]]
    assert json_client.json.mget([a, f"{prefix}none"], "$.int") == [[3], None]


def test_json_writes_through_the_sdk(json_client: Redis, prefix: str) -> None:
    key = f"{prefix}doc"
    json_client.json.set(key, "$", DOC)

    assert json_client.json.arrappend(key, "$.array", 5) == [5]
    assert json_client.json.arrlen(key, "$.array") == [5]
    assert json_client.json.strappend(key, "$.str", "x") == [5]
    assert json_client.json.type(key, "$.int") == ["integer"]
    assert json_client.json.objkeys(key, "$") == [["int", "str", "array", "object"]]
    assert json_client.json.merge(key, "$", {"extra": True}) is True
    assert json_client.json.delete(key, "$.object") == 1
    assert json_client.json.get(key) == [
        {"int": 1, "str": "testx", "array": [1, 2, 3, 4, 5], "extra": True}
    ]


def test_json_arrindex_merge_numincrby_and_resp_as_redis_answers(
    json_client: Redis, prefix: str
) -> None:
    """Found by the SDK's own JSON tests, which failed on each of these (embedded mode)."""
    key, fresh = f"{prefix}doc", f"{prefix}fresh"
    json_client.json.set(key, "$", {"object": {"array": [1, 2, 3]}, "int": 1})

    assert json_client.json.arrindex(key, "$.object.array", 3) == [2]  # the last element too
    assert json_client.json.arrindex(key, "$.object.array", 3, 0, 2) == [-1]
    assert json_client.json.merge(fresh, "$", {"a": 1}) is True  # a missing key is created
    assert json_client.json.get(fresh) == [{"a": 1}]
    assert json_client.json.numincrby(key, "$.missing", 1) == []
    assert json_client.json.resp(key, "$.object") == [["{", "array", ["[", 1, 2, 3]]]


# `$..` (recursive descent): Upstash lists the matches in the reverse of the document order in
# which Redis lists them (every `$..` expectation of the SDK's own JSON tests is Redis's list
# reversed: the nested match first). The embedded backend answers as Upstash does; in front of a
# real Redis the command is passed through, so Redis's order is the expectation there.


def in_backend_order(backend_url: str | None, upstash: list[Any]) -> list[Any]:
    return upstash if backend_url is None else upstash[::-1]


def test_json_recursive_descent_reads_in_upstash_order(
    json_client: Redis, backend_url: str | None, prefix: str
) -> None:
    key, other = f"{prefix}doc", f"{prefix}other"
    json_client.json.set(
        key, "$", {"a": 1, "n": {"a": 2, "m": {"a": 3}}, "s": "x", "t": {"s": "yz"}}
    )
    json_client.json.set(other, "$", {"a": 4, "n": {"a": 5}})
    order = functools.partial(in_backend_order, backend_url)

    assert json_client.json.get(key, "$..a") == order([3, 2, 1])
    assert json_client.json.get(key, "$..a", "$.s") == {"$..a": order([3, 2, 1]), "$.s": ["x"]}
    assert json_client.json.mget([key, other], "$..a") == [order([3, 2, 1]), order([5, 4])]
    assert json_client.json.resp(key, "$..m") == [["{", "a", 3]]
    assert json_client.json.strlen(key, "$..s") == order([2, 1])
    assert json_client.json.type(key, "$..a") == ["integer"] * 3
    assert json_client.json.objlen(key, "$..n") == [2]
    assert json_client.json.get(key, "..a") == 1  # a legacy path answers the first match


def test_json_recursive_descent_writes_answer_in_upstash_order(
    json_client: Redis, backend_url: str | None, prefix: str
) -> None:
    key = f"{prefix}doc"
    json_client.json.set(
        key,
        "$",
        {
            "v": 1,
            "b": True,
            "arr": [1],
            "s": "a",
            "o": {"v": 2, "b": False, "arr": [2, 3], "s": "bc"},
        },
    )
    order = functools.partial(in_backend_order, backend_url)

    assert json_client.json.numincrby(key, "$..v", 1) == order([3, 2])
    assert json_client.json.nummultby(key, "$..v", 2) == order([6, 4])
    assert json_client.json.toggle(key, "$..b") == order([True, False])
    assert json_client.json.strappend(key, "$..s", "!") == order([3, 2])
    assert json_client.json.arrappend(key, "$..arr", 9) == order([3, 2])
    assert json_client.json.arrinsert(key, "$..arr", 0, 0) == order([4, 3])
    assert json_client.json.arrindex(key, "$..arr", 9) == order([3, 2])
    assert json_client.json.arrlen(key, "$..arr") == order([4, 3])
    assert json_client.json.arrpop(key, "$..arr", 0) == order([0, 0])
    assert json_client.json.arrtrim(key, "$..arr", 0, 1) == order([2, 2])
    assert json_client.json.objkeys(key, "$..o") == [["v", "b", "arr", "s"]]
    assert json_client.json.arrlen(key, "$.arr") == [2]  # a path without `..` is not reordered
    tx = json_client.multi()
    tx.json.strlen(key, "$..s")
    tx.json.arrlen(key, "$..arr")
    assert tx.exec() == [order([3, 2]), order([2, 2])]


# --- JSON.MERGE, JSON.TOGGLE and JSON.SET as Redis and Upstash answer them ----------------------


def test_json_merge_patches_every_match(json_client: Redis, prefix: str) -> None:
    """RFC 7396 at each match: a value that is no object replaces it, null deletes it."""
    key = f"{prefix}doc"
    json_client.json.set(key, "$", {"int": 1, "array": [1, 2], "object": {"array": [3], "n": 0}})

    assert json_client.json.merge(key, "$..array", [2, 2, 3, 4]) is True
    assert json_client.json.get(key, "$.array", "$.object.array") == {
        "$.array": [[2, 2, 3, 4]],
        "$.object.array": [[2, 2, 3, 4]],
    }
    assert json_client.json.merge(key, "$.int", 5) is True
    assert json_client.json.merge(key, "$.new", "x") is True  # a missing member is added
    assert json_client.json.merge(key, "$.object.n", None) is True  # null deletes
    assert json_client.json.merge(key, "$.array", {"a": {"b": 1, "c": None}}) is True
    assert json_client.json.merge(key, "$.object", {"array": None, "z": 1}) is True
    assert json_client.json.get(key) == [
        {"int": 5, "array": {"a": {"b": 1}}, "object": {"z": 1}, "new": "x"}
    ]


def test_json_toggle_answers_null_for_a_match_that_is_no_boolean(
    json_client: Redis, prefix: str
) -> None:
    key = f"{prefix}doc"
    json_client.json.set(key, "$", {"bool": True, "obj": {"bool": False}, "int": 1})

    assert json_client.json.toggle(key, "$.obj") == [None]
    assert json_client.json.toggle(key, "$.int") == [None]
    assert json_client.json.toggle(key, "$.missing") == []
    assert json_client.json.toggle(key, "$.*") == [False, None, None]  # document order, no `..`
    assert json_client.json.get(key) == [{"bool": False, "obj": {"bool": False}, "int": 1}]
    with pytest.raises(UpstashError):
        json_client.json.toggle(f"{prefix}none", "$.bool")


def test_json_set_creates_no_missing_parent(
    json_client: Redis, backend_url: str | None, prefix: str
) -> None:
    """Upstash refuses a path whose parent does not exist (Redis answers nil): no parent is made."""
    key, fresh = f"{prefix}doc", f"{prefix}fresh"
    json_client.json.set(key, "$", {"int": 1, "obj": {}})

    for path in ("$.missing.str", "$.int.str", ".missing.str"):
        if backend_url is None:
            with pytest.raises(UpstashError, match="does not exist"):
                json_client.json.set(key, path, "test")
        else:
            with contextlib.suppress(UpstashError):
                assert json_client.json.set(key, path, "test") is False
    assert json_client.json.set(key, "$.obj.str", "test") is True  # the parent exists
    assert json_client.json.get(key) == [{"int": 1, "obj": {"str": "test"}}]
    with pytest.raises(UpstashError, match="at the root"):
        json_client.json.set(fresh, "$.a", 1)
    assert json_client.json.get(fresh) is None
