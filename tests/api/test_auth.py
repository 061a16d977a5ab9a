"""User authentication on every user route, and that a user never reaches another user's rows."""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from jwt.warnings import InsecureKeyLengthWarning

from api._http.app import create_app
from tests.api.conftest import (
    ALICE,
    BOB,
    bearer,
    clear_queue,
    data_version,
    db_state,
    dirty_since,
    pending_ids,
    upstash_requests,
)
from tests.conftest import JWT_SECRET, UpstashHandle
from tests.support import World

OTHER_SECRET = "another-secret-entirely-0123456789"
ISSUER = "https://auth.tally.test/"
AUDIENCE = "tally-api"
CSV = b"Date,Description,Amount\n2024-05-01,Corner shop,-4.20\n"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    json: Any = None
    upload: bool = False

    def call(self, client: TestClient, headers: dict[str, str]) -> Response:
        files = {"file": ("statement.csv", CSV, "text/csv")} if self.upload else None
        response: Response = client.request(
            self.method, self.path, headers=headers, json=self.json, files=files
        )
        return response


def user_routes(txn_id: int) -> list[Route]:
    """Every route a user token opens, each with a body that would otherwise succeed."""
    one = {"date": "2024-05-01", "amount": "-4.20", "currency": "USD", "description": "Shop"}
    return [
        Route("POST", "/api/transactions", json=one),
        Route("GET", "/api/transactions"),
        Route("PATCH", f"/api/transactions/{txn_id}", json={"category": "Hijacked"}),
        Route("DELETE", f"/api/transactions/{txn_id}"),
        Route("POST", "/api/transactions/upload", upload=True),
        Route("GET", "/api/summary"),
    ]


DROP: Any = object()  # a claim to leave out


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": ALICE, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not DROP}


def hs256(payload: dict[str, Any], secret: str = JWT_SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def alg_none_token() -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."


def tampered_token() -> str:
    """Alice's genuine token with Bob's claims swapped in: the signature no longer matches."""
    header, _, signature = hs256(claims()).split(".")
    return f"{header}.{b64(claims(sub=BOB))}.{signature}"


def hs512_token() -> str:
    # The app's own secret under another HMAC: the algorithm, not the key, is what is refused.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims(), JWT_SECRET, algorithm="HS512")


def rs256_token() -> str:
    pytest.importorskip("cryptography", reason="an RS256 token needs the cryptography package")
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims(), private_key, algorithm="RS256")


@dataclass(frozen=True)
class BadAuth:
    """One way to present unacceptable credentials, and a word the 401's detail must contain."""

    header: Callable[[], str | None]
    reason: str
    env: dict[str, str] = field(default_factory=dict)


BAD_AUTH: dict[str, BadAuth] = {
    "no-header": BadAuth(lambda: None, "missing"),
    "basic-scheme": BadAuth(lambda: "Basic dXNlcjpwYXNzd29yZA==", "missing"),
    "basic-scheme-with-a-valid-jwt": BadAuth(lambda: f"Basic {hs256(claims())}", "missing"),
    "empty-token": BadAuth(lambda: "Bearer ", "missing"),
    "scheme-only": BadAuth(lambda: "Bearer", "missing"),
    "garbage-token": BadAuth(lambda: "Bearer not-a-jwt-at-all", "malformed"),
    "garbage-three-parts": BadAuth(lambda: "Bearer aaa.bbb.ccc", "malformed"),
    "alg-none": BadAuth(lambda: f"Bearer {alg_none_token()}", "algorithm"),
    "hs512": BadAuth(lambda: f"Bearer {hs512_token()}", "algorithm"),
    "rs256": BadAuth(lambda: f"Bearer {rs256_token()}", "algorithm"),
    "other-secret": BadAuth(lambda: f"Bearer {hs256(claims(), OTHER_SECRET)}", "signature"),
    "tampered-payload": BadAuth(lambda: f"Bearer {tampered_token()}", "signature"),
    "expired": BadAuth(lambda: f"Bearer {hs256(claims(exp=int(time.time()) - 60))}", "expired"),
    "missing-exp": BadAuth(lambda: f"Bearer {hs256(claims(exp=DROP))}", "exp"),
    "missing-sub": BadAuth(lambda: f"Bearer {hs256(claims(sub=DROP))}", "sub"),
    "empty-sub": BadAuth(lambda: f"Bearer {hs256(claims(sub=''))}", "sub"),
    "integer-sub": BadAuth(lambda: f"Bearer {hs256(claims(sub=42))}", "sub"),
    "null-sub": BadAuth(lambda: f"Bearer {hs256(claims(sub=None))}", "sub"),
    "overlong-sub": BadAuth(lambda: f"Bearer {hs256(claims(sub='u' * 256))}", "sub"),
    "wrong-issuer": BadAuth(
        lambda: f"Bearer {hs256(claims(iss='https://evil.test/', aud=AUDIENCE))}",
        "issuer",
        {"AUTH_JWT_ISSUER": ISSUER, "AUTH_JWT_AUDIENCE": AUDIENCE},
    ),
    "missing-issuer": BadAuth(
        lambda: f"Bearer {hs256(claims(aud=AUDIENCE))}",
        "iss",
        {"AUTH_JWT_ISSUER": ISSUER, "AUTH_JWT_AUDIENCE": AUDIENCE},
    ),
    "wrong-audience": BadAuth(
        lambda: f"Bearer {hs256(claims(iss=ISSUER, aud='someone-else'))}",
        "audience",
        {"AUTH_JWT_ISSUER": ISSUER, "AUTH_JWT_AUDIENCE": AUDIENCE},
    ),
    "missing-audience": BadAuth(
        lambda: f"Bearer {hs256(claims(iss=ISSUER))}",
        "aud",
        {"AUTH_JWT_ISSUER": ISSUER, "AUTH_JWT_AUDIENCE": AUDIENCE},
    ),
}


def configure(env: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    from core.base.settings import get_settings

    for name, value in values.items():
        env.setenv(name, value)
    get_settings.cache_clear()


def assert_unauthorized(response: Response, where: str, reason: str) -> None:
    assert response.status_code == 401, f"{where}: {response.status_code} {response.text}"
    detail = response.json()["detail"]
    assert isinstance(detail, str), f"{where}: {detail!r}"
    assert reason.lower() in detail.lower(), f"{where}: {detail!r} does not say {reason!r}"
    assert response.headers["www-authenticate"].startswith("Bearer"), where
    assert JWT_SECRET not in response.text, where
    assert OTHER_SECRET not in response.text, where


@pytest.fixture
def client_without_database(
    env: pytest.MonkeyPatch, upstash: UpstashHandle
) -> Iterator[TestClient]:
    """The app with a database nothing listens on: a request that got past authentication
    would fail with a 500, so every 401 below was decided before any database access."""
    configure(
        env,
        {
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/unreachable",
            "UPSTASH_REDIS_REST_URL": upstash.url,
            "UPSTASH_REDIS_REST_TOKEN": upstash.token,
            "QUEUE_PREFIX": upstash.prefix,
            "AUTH_JWT_SECRET": JWT_SECRET,
        },
    )
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("case", list(BAD_AUTH.values()), ids=list(BAD_AUTH))
def test_every_user_route_refuses_bad_credentials(
    case: BadAuth,
    client_without_database: TestClient,
    upstash: UpstashHandle,
    env: pytest.MonkeyPatch,
) -> None:
    configure(env, case.env)
    header = case.header()
    headers = {} if header is None else {"Authorization": header}

    for route in user_routes(txn_id=1):
        response = route.call(client_without_database, headers)
        assert_unauthorized(response, f"{route.method} {route.path}", case.reason)

    assert upstash.keys() == []
    assert upstash.stats()["requests"] == 0


def test_bad_credentials_leave_existing_rows_and_the_queue_untouched(
    client: TestClient, world: World, upstash: UpstashHandle, env: pytest.MonkeyPatch
) -> None:
    # Alice's own row: every bad token below names Alice, so a token that slipped through
    # would really change it.
    target = _create(client, ALICE, "Alice's rent", "-900.00")["id"]
    clear_queue(upstash)
    before = db_state(world)

    for name, case in BAD_AUTH.items():
        if name == "rs256":
            continue  # needs an optional package; covered by the parametrized test
        configure(env, case.env)
        header = case.header()
        for route in user_routes(target):
            response = route.call(client, {} if header is None else {"Authorization": header})
            assert_unauthorized(response, f"{name}: {route.method} {route.path}", case.reason)
        for variable in case.env:
            env.delenv(variable)

    assert db_state(world) == before
    assert upstash.keys() == []


def test_a_valid_token_opens_every_user_route(
    client: TestClient, world: World, upstash: UpstashHandle
) -> None:
    created = client.post(
        "/api/transactions",
        headers=bearer(ALICE),
        json={"date": "2024-05-02", "amount": "-1.00", "currency": "USD"},
    )
    assert created.status_code == 201, created.text
    routes = user_routes(created.json()["id"])

    statuses = [route.call(client, bearer(ALICE)).status_code for route in routes]

    assert statuses == [201, 200, 200, 204, 201, 200]


def test_scheme_is_case_insensitive(client: TestClient) -> None:
    token = bearer(ALICE)["Authorization"].split(" ", 1)[1]

    response = client.get("/api/transactions", headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200, response.text


def test_issuer_and_audience_are_accepted_when_they_match(
    client: TestClient, env: pytest.MonkeyPatch
) -> None:
    configure(env, {"AUTH_JWT_ISSUER": ISSUER, "AUTH_JWT_AUDIENCE": AUDIENCE})
    token = hs256(claims(iss=ISSUER, aud=AUDIENCE))

    response = client.get("/api/transactions", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.text
    minted = client.get("/api/summary", headers=bearer(ALICE))  # mint_token adds iss and aud
    assert minted.status_code == 200, minted.text


def test_user_row_is_created_on_first_write(client: TestClient, world: World) -> None:
    assert world.scalar("SELECT count(*) FROM users") == 0

    response = client.post(
        "/api/transactions",
        headers=bearer(ALICE),
        json={"date": "2024-05-02", "amount": 250, "currency": "EUR", "description": "Refund"},
    )

    assert response.status_code == 201, response.text
    assert world.rows("SELECT id, data_version FROM users") == [(ALICE, 1)]
    assert dirty_since(world, ALICE) is not None


def test_first_write_of_many_users_creates_one_row_each(client: TestClient, world: World) -> None:
    body = {"date": "2024-05-02", "amount": "-3", "currency": "USD"}
    for user in (ALICE, BOB, ALICE):
        assert client.post("/api/transactions", headers=bearer(user), json=body).status_code == 201

    assert world.rows("SELECT id, data_version FROM users ORDER BY id") == [(ALICE, 2), (BOB, 1)]


# --- Cross-user access -------------------------------------------------------------------------


def _create(client: TestClient, user: str, description: str, amount: str) -> dict[str, Any]:
    response = client.post(
        "/api/transactions",
        headers=bearer(user),
        json={
            "date": "2024-06-01",
            "amount": amount,
            "currency": "USD",
            "description": description,
            "category": "Private",
        },
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def alice_and_bob(client: TestClient, upstash: UpstashHandle) -> tuple[list[int], int]:
    """Three rows of Alice's and one of Bob's; the queue emptied afterwards."""
    alice_ids = [_create(client, ALICE, f"Alice secret {n}", f"-{n}.00")["id"] for n in range(1, 4)]
    bob_id = _create(client, BOB, "Bob lunch", "-9.99")["id"]
    clear_queue(upstash)
    return alice_ids, bob_id


def test_list_never_shows_another_users_rows(
    client: TestClient, alice_and_bob: tuple[list[int], int]
) -> None:
    alice_ids, bob_id = alice_and_bob
    queries: list[dict[str, str]] = [
        {},
        {"q": "Alice"},
        {"category": "Private"},
        {"from": "2024-01-01", "to": "2024-12-31"},
        {"limit": "200"},
    ]

    for params in queries:
        page = client.get("/api/transactions", headers=bearer(BOB), params=params).json()
        ids = [item["id"] for item in page["items"]]
        assert not set(ids) & set(alice_ids), params
        assert ids == ([] if params.get("q") == "Alice" else [bob_id]), params

    alice_view = client.get("/api/transactions", headers=bearer(ALICE)).json()
    assert sorted(item["id"] for item in alice_view["items"]) == alice_ids


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", {"amount": "-1000.00"}),
        ("PATCH", {"description": "mine now", "category": "Stolen", "currency": "EUR"}),
        ("DELETE", None),
    ],
    ids=["patch-amount", "patch-everything", "delete"],
)
def test_changing_another_users_row_is_404_and_changes_nothing(
    method: str,
    body: dict[str, str] | None,
    client: TestClient,
    world: World,
    upstash: UpstashHandle,
    alice_and_bob: tuple[list[int], int],
) -> None:
    alice_ids, _ = alice_and_bob
    before = db_state(world)
    alice_version = data_version(world, ALICE)
    requests_before = upstash_requests(upstash)

    for txn_id in alice_ids:
        response = client.request(
            method, f"/api/transactions/{txn_id}", headers=bearer(BOB), json=body
        )
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"transaction {txn_id} not found"}

    assert db_state(world) == before
    assert data_version(world, ALICE) == alice_version
    assert upstash_requests(upstash) == requests_before
    assert upstash.keys() == []
    assert pending_ids(upstash) == []


def test_another_users_row_is_indistinguishable_from_a_missing_one(
    client: TestClient, alice_and_bob: tuple[list[int], int]
) -> None:
    alice_ids, _ = alice_and_bob
    missing = max(alice_ids) + 1000

    for method, body in (("PATCH", {"category": "x"}), ("DELETE", None)):
        foreign = client.request(
            method, f"/api/transactions/{alice_ids[0]}", headers=bearer(BOB), json=body
        )
        absent = client.request(
            method, f"/api/transactions/{missing}", headers=bearer(BOB), json=body
        )
        assert (foreign.status_code, absent.status_code) == (404, 404)
        assert foreign.json()["detail"].replace(str(alice_ids[0]), "N") == absent.json()[
            "detail"
        ].replace(str(missing), "N")


def test_summary_shows_only_the_callers_own_figures(
    client: TestClient, alice_and_bob: tuple[list[int], int]
) -> None:
    bob = client.get("/api/summary", headers=bearer(BOB))
    alice = client.get("/api/summary", headers=bearer(ALICE))

    assert bob.status_code == alice.status_code == 200
    assert (bob.json()["user_id"], bob.json()["data_version"]) == (BOB, 1)
    assert (alice.json()["user_id"], alice.json()["data_version"]) == (ALICE, 3)
