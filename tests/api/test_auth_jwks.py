"""The API with an identity provider's JWKS: tokens accepted, the email stored, emails sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api._http.app import create_app
from core.base import auth
from core.drain.runner import DrainOptions, run
from core.writes.users import forget_remembered_emails
from functions import get_kind
from tests.conftest import clear_caches
from tests.core.base.jwks_server import AUDIENCE, ISSUER, JwksServer, Signer, hs256_forged
from tests.functions.test_notification_channels import REGION, SENDER, ses  # noqa: F401
from tests.support import World, make_world

ONE = {"date": "2024-05-01", "amount": "-4.20", "currency": "USD", "description": "Shop"}


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("ec-api-1", "ES256")


@pytest.fixture
def idp(signer: Signer) -> Iterator[JwksServer]:
    auth.reset_jwks_clients()
    forget_remembered_emails()
    with JwksServer(signer) as server:
        yield server
    auth.reset_jwks_clients()
    forget_remembered_emails()


@pytest.fixture
def jwks_world(app_env: dict[str, str], env: pytest.MonkeyPatch, idp: JwksServer) -> World:
    env.setenv("AUTH_JWKS_URL", idp.url)
    env.setenv("AUTH_JWT_ISSUER", ISSUER)
    env.setenv("AUTH_JWT_AUDIENCE", AUDIENCE)
    clear_caches()
    return make_world()


@pytest.fixture
def client(jwks_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def as_user(signer: Signer, sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {signer.sign(sub, **claims)}"}


def email_of(world: World, user_id: str) -> Any:
    return world.scalar("SELECT email FROM users WHERE id = :id", id=user_id)


def test_a_provider_token_writes_and_its_email_is_stored_then_updated(
    client: TestClient, jwks_world: World, signer: Signer
) -> None:
    created = client.post("/api/transactions", json=ONE, headers=as_user(signer, "idp|ana"))
    assert created.status_code == 201, created.text
    assert email_of(jwks_world, "idp|ana") is None  # the token carried no email

    headers = as_user(signer, "idp|ana", email="ana@example.com")
    assert client.get("/api/summary", headers=headers).status_code == 200
    assert email_of(jwks_world, "idp|ana") == "ana@example.com"

    headers = as_user(signer, "idp|ana", email="ana@new.example")
    assert client.get("/api/transactions", headers=headers).status_code == 200
    assert email_of(jwks_world, "idp|ana") == "ana@new.example"


def test_first_sight_of_an_email_creates_the_user(
    client: TestClient, jwks_world: World, signer: Signer
) -> None:
    headers = as_user(signer, "idp|new", email="new@example.com")

    assert client.get("/api/summary", headers=headers).status_code == 200
    assert email_of(jwks_world, "idp|new") == "new@example.com"
    assert jwks_world.scalar("SELECT data_version FROM users WHERE id = 'idp|new'") == 0


@pytest.mark.parametrize(
    "forge",
    [
        lambda s: hs256_forged(s.public_pem(), s.kid),
        lambda s: s.sign(iss="https://other.test/"),
        lambda s: s.sign(aud="other-api"),
        lambda s: Signer("unknown-kid", "ES256").sign(),
    ],
    ids=["hs256-with-public-key", "wrong-issuer", "wrong-audience", "unknown-kid"],
)
def test_refused_tokens_are_401_and_change_nothing(
    client: TestClient, jwks_world: World, signer: Signer, forge: Any
) -> None:
    headers = {"Authorization": f"Bearer {forge(signer)}"}

    response = client.post("/api/transactions", json=ONE, headers=headers)

    assert response.status_code == 401
    assert jwks_world.scalar("SELECT count(*) FROM users") == 0


def test_an_unreachable_jwks_is_503_with_retry_after(
    client: TestClient, idp: JwksServer, signer: Signer
) -> None:
    idp.status = 503

    response = client.get("/api/summary", headers=as_user(signer, "idp|ana"))

    assert response.status_code == 503
    assert response.headers["retry-after"]


def test_the_summary_email_reaches_the_claims_address(
    app_env: dict[str, str],
    env: pytest.MonkeyPatch,
    idp: JwksServer,
    signer: Signer,
    ses: list[Any],  # noqa: F811
) -> None:
    for name, value in {
        "AUTH_JWKS_URL": idp.url,
        "AUTH_JWT_ISSUER": ISSUER,
        "AUTH_JWT_AUDIENCE": AUDIENCE,
        "AUTH_EMAIL_CLAIM": "https://tally.test/email",
        "NOTIFY_EMAIL_FROM": SENDER,
        "AWS_REGION": REGION,
    }.items():
        env.setenv(name, value)
    clear_caches()
    headers = as_user(signer, "idp|bo", **{"https://tally.test/email": "bo@example.com"})
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.post("/api/transactions", json=ONE, headers=headers).status_code == 201

    stats = run(get_kind("financial-summary"), "test", DrainOptions(batch_size=10))

    assert stats.succeeded == 1
    assert [m.destinations["ToAddresses"] for m in ses] == [["bo@example.com"]]
