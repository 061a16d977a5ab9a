"""Tokens from an identity provider's JWKS (RS256, ES256), key rotation and what is refused."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from core.base import auth
from core.base.auth import AuthError, AuthUnavailable, verify_identity, verify_token
from core.base.settings import Settings
from tests.core.base.jwks_server import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    Signer,
    hs256_forged,
    standard_claims,
)

COOLDOWN = 30.0


@pytest.fixture(scope="module")
def rsa_key() -> Signer:
    return Signer("rsa-1", "RS256")


@pytest.fixture(scope="module")
def ec_key() -> Signer:
    return Signer("ec-1", "ES256")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The refetch cooldown's clock, moved by the test (nothing here waits)."""
    now = [1000.0]
    monkeypatch.setattr(auth, "_monotonic", lambda: now[0])
    return now


@pytest.fixture
def idp(rsa_key: Signer, ec_key: Signer, clock: list[float]) -> Iterator[JwksServer]:
    auth.reset_jwks_clients()
    with JwksServer(rsa_key, ec_key) as server:
        yield server
    auth.reset_jwks_clients()


def settings_for(server: JwksServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "auth_jwks_url": server.url,
        "auth_jwt_issuer": ISSUER,
        "auth_jwt_audience": AUDIENCE,
        "auth_jwks_refetch_cooldown_seconds": COOLDOWN,
        **overrides,
    }
    return Settings(**values)


def refused(token: str, settings: Settings) -> str:
    with pytest.raises(AuthError) as exc:
        verify_identity(token, settings)
    return str(exc.value)


def test_rs256_and_es256_tokens_are_accepted_with_one_fetch(
    idp: JwksServer, rsa_key: Signer, ec_key: Signer
) -> None:
    settings = settings_for(idp)

    assert verify_token(rsa_key.sign("alice"), settings) == "alice"
    assert verify_token(ec_key.sign("bob"), settings) == "bob"
    assert verify_token(rsa_key.sign("carol"), settings) == "carol"

    assert idp.fetches == 1


def test_a_cold_start_under_concurrent_requests_fetches_once(
    idp: JwksServer, rsa_key: Signer
) -> None:
    settings = settings_for(idp)
    tokens = [rsa_key.sign(f"user-{i}") for i in range(8)]
    results: list[str] = []
    start = threading.Barrier(len(tokens))

    def verify(token: str) -> None:
        start.wait()
        results.append(verify_token(token, settings))

    threads = [threading.Thread(target=verify, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == sorted(f"user-{i}" for i in range(8))
    assert idp.fetches == 1


def test_a_rotated_key_is_accepted_and_unknown_kids_refetch_once_per_cooldown(
    idp: JwksServer, rsa_key: Signer, clock: list[float]
) -> None:
    settings = settings_for(idp)
    assert verify_token(rsa_key.sign("alice"), settings) == "alice"
    rotated = Signer("rsa-2", "RS256")
    idp.publish(rotated)

    # Within the cooldown of the first fetch: the new kid is not fetched yet.
    assert "key id" in refused(rotated.sign("alice"), settings)
    assert idp.fetches == 1
    clock[0] += COOLDOWN + 1
    assert verify_token(rotated.sign("alice"), settings) == "alice"
    assert idp.fetches == 2
    # Unknown kids right after: no fetch each (a token stream of random kids costs nothing).
    for kid in ("nope-1", "nope-2", "rsa-1"):
        assert "key id" in refused(Signer(kid, "ES256").sign(), settings)
    assert idp.fetches == 2
    # The retired key is gone from the refreshed set.
    assert "key id" in refused(rsa_key.sign("alice"), settings)


def test_hs256_signed_with_the_public_key_is_refused(idp: JwksServer, rsa_key: Signer) -> None:
    settings = settings_for(idp)
    forged = hs256_forged(rsa_key.public_pem(), rsa_key.kid)

    assert "algorithm" in refused(forged, settings)
    assert idp.fetches == 0  # an HS256 token never makes the server fetch keys


def test_hs256_with_the_shared_secret_is_refused_in_jwks_mode(idp: JwksServer) -> None:
    secret = "a-shared-secret-of-enough-length-0123456789"
    settings = settings_for(idp, auth_jwt_secret=secret)
    token = jwt.encode(standard_claims("alice"), secret, algorithm="HS256")

    assert "algorithm" in refused(token, settings)


def test_a_symmetric_key_in_the_jwks_is_never_used(idp: JwksServer, rsa_key: Signer) -> None:
    secret = b"published-oct-key-0123456789abcdef"
    oct_key = {
        "kty": "oct",
        "kid": "oct-1",
        "alg": "HS256",
        "k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode(),
    }
    idp.publish(rsa_key, extra=[oct_key])

    assert "algorithm" in refused(hs256_forged(secret, "oct-1"), settings_for(idp))


def test_an_rs256_header_on_an_ec_key_is_refused(idp: JwksServer, ec_key: Signer) -> None:
    impostor = Signer("ec-1", "RS256")  # the EC key's kid, an RSA signature

    assert "algorithm" in refused(impostor.sign(), settings_for(idp))


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.test/"}, "issuer"),
        ({"aud": "another-api"}, "audience"),
        ({"exp": 1_000_000}, "expired"),
        ({"sub": None}, "'sub'"),
    ],
)
def test_wrong_claims_are_refused(
    idp: JwksServer, rsa_key: Signer, claims: dict[str, Any], reason: str
) -> None:
    assert reason in refused(rsa_key.sign(**claims), settings_for(idp))


def test_an_unknown_kid_and_a_missing_kid_are_refused(idp: JwksServer, rsa_key: Signer) -> None:
    settings = settings_for(idp)
    stranger = Signer("who-1", "ES256")
    no_kid = jwt.encode(standard_claims("alice"), rsa_key.private, algorithm="RS256")

    assert "key id" in refused(stranger.sign(), settings)
    assert "kid" in refused(no_kid, settings)


def test_an_unreachable_jwks_is_unavailable_not_a_bad_token(
    idp: JwksServer, rsa_key: Signer
) -> None:
    idp.status = 500
    with pytest.raises(AuthUnavailable):
        verify_identity(rsa_key.sign(), settings_for(idp))


@pytest.mark.parametrize(
    ("claims", "email"),
    [
        ({"email": "ana@example.com"}, "ana@example.com"),
        ({"email": "ana@example.com", "email_verified": False}, None),
        ({"email": "ana@example.com", "email_verified": True}, "ana@example.com"),
        ({"email": 42}, None),
        ({"email": "not-an-address"}, None),
        ({"email": "a@b" + "c" * 400}, None),
        ({}, None),
    ],
)
def test_the_email_comes_from_the_claim(
    idp: JwksServer, rsa_key: Signer, claims: dict[str, Any], email: str | None
) -> None:
    identity = verify_identity(rsa_key.sign("alice", **claims), settings_for(idp))

    assert (identity.user_id, identity.email) == ("alice", email)


def test_the_email_claim_is_configurable(idp: JwksServer, rsa_key: Signer) -> None:
    settings = settings_for(idp, auth_email_claim="https://tally.test/email")
    token = rsa_key.sign(**{"https://tally.test/email": "bo@example.com", "email": "x@y.z"})

    assert verify_identity(token, settings).email == "bo@example.com"


def test_shared_secret_mode_still_refuses_asymmetric_tokens(rsa_key: Signer) -> None:
    settings = Settings(auth_jwt_secret="a-shared-secret-of-enough-length-0123456789")

    with pytest.raises(AuthError, match="algorithm"):
        verify_identity(rsa_key.sign(), settings)
