"""User authentication: `Authorization: Bearer <JWT>`.

Two modes, each with its algorithms pinned, so a token can never choose how it is checked:
- shared secret (the default): HS256 signed with AUTH_JWT_SECRET;
- identity provider (AUTH_JWKS_URL set): RS256 or ES256, verified with the key of the token's
  `kid` from the provider's JWKS. HS256 is refused in this mode (a token "signed" with the
  public key as an HMAC secret is the classic confusion), and so is a key whose own algorithm
  is not the token's. The key set is fetched once per process and cached (AUTH_JWKS_CACHE_SECONDS);
  a `kid` not in it refetches, at most once per AUTH_JWKS_REFETCH_COOLDOWN_SECONDS, so a rotated
  key is picked up and a stream of made-up kids costs the provider nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from core.base.settings import Settings

ALGORITHM = "HS256"
JWKS_ALGORITHMS = ("RS256", "ES256")
MAX_EMAIL_LENGTH = 320
MAX_USER_ID_LENGTH = 255
_BAD_SUBJECT = f"token 'sub' must be a non-empty string of at most {MAX_USER_ID_LENGTH} characters"


class AuthError(Exception):
    """The token is missing or unacceptable. The message is safe to return to the caller."""


class AuthUnavailable(Exception):
    """The identity provider's keys cannot be fetched: the token cannot be checked right now."""


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    email: str | None  # from AUTH_EMAIL_CLAIM, when it holds a plausible, not unverified address


_monotonic = time.monotonic  # the cooldown's clock (tests move it)


class _KeySet:
    """The provider's signing keys: PyJWT's PyJWKClient fetches and caches them; this adds the
    refetch cooldown for unknown kids and one lock, so concurrent cold requests fetch once."""

    def __init__(self, url: str, lifespan: float, cooldown: float, timeout: float) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=lifespan, timeout=timeout)
        self._cooldown = cooldown
        self._lock = threading.Lock()
        self._fetched_at: float | None = None

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            keys = self._signing_keys(refresh=False)
            key = self._client.match_kid(keys, kid)
            due = self._fetched_at is None or _monotonic() - self._fetched_at >= self._cooldown
            if key is None and due:
                key = self._client.match_kid(self._signing_keys(refresh=True), kid)
            return key

    def _signing_keys(self, refresh: bool) -> list[jwt.PyJWK]:
        cached = self._client.jwk_set_cache
        fetching = refresh or cached is None or cached.get() is None
        try:
            keys = self._client.get_signing_keys(refresh=refresh)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthUnavailable("the identity provider's keys could not be fetched") from exc
        except (jwt.PyJWKClientError, jwt.PyJWKSetError) as exc:
            raise AuthUnavailable("the identity provider's key set is unusable") from exc
        if fetching:
            self._fetched_at = _monotonic()
        return keys


_key_sets: dict[tuple[str, float, float, float], _KeySet] = {}
_key_sets_lock = threading.Lock()


def _key_set(settings: Settings) -> _KeySet:
    url = settings.auth_jwks_url or ""
    config = (
        url,
        settings.auth_jwks_cache_seconds,
        settings.auth_jwks_refetch_cooldown_seconds,
        settings.auth_jwks_timeout_seconds,
    )
    with _key_sets_lock:
        if config not in _key_sets:
            _key_sets[config] = _KeySet(*config)
        return _key_sets[config]


def reset_jwks_clients() -> None:
    """Forget every fetched key set (tests; a process otherwise keeps its own)."""
    with _key_sets_lock:
        _key_sets.clear()


def mint_token(user_id: str, settings: Settings, ttl_seconds: int = 86_400) -> str:
    """A token as the app's own login would issue it (dev server, scripts/token.py, tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if settings.auth_jwt_issuer:
        claims["iss"] = settings.auth_jwt_issuer
    if settings.auth_jwt_audience:
        claims["aud"] = settings.auth_jwt_audience
    return jwt.encode(claims, settings.auth_jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def _utf8(text: str) -> bool:
    # A lone surrogate (a JSON escape like \\ud800) has no UTF-8 form: the database would fail.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def verify_token(token: str, settings: Settings) -> str:
    """The user id (`sub`) of a valid token; AuthError otherwise."""
    return verify_identity(token, settings).user_id


def verify_identity(token: str, settings: Settings) -> Identity:
    """The user of a valid token, and their email; AuthError (or AuthUnavailable) otherwise."""
    if settings.auth_jwks_url:
        key: Any = _provider_key(token, settings)
        algorithms = list(JWKS_ALGORITHMS)
    else:
        key, algorithms = settings.auth_jwt_secret.get_secret_value(), [ALGORITHM]
    try:
        # Pinning the algorithm list is what refuses `alg: none` and RS/HS confusion.
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=settings.auth_jwt_issuer,
            audience=settings.auth_jwt_audience,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token is missing the '{exc.claim}' claim") from exc
    except jwt.InvalidAudienceError as exc:
        raise AuthError("token audience is not accepted") from exc
    except jwt.InvalidIssuerError as exc:
        raise AuthError("token issuer is not accepted") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise AuthError(_bad_algorithm(algorithms)) from exc
    except jwt.InvalidSignatureError as exc:
        raise AuthError("token signature is invalid") from exc
    except jwt.exceptions.InvalidSubjectError as exc:
        raise AuthError(_BAD_SUBJECT) from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("token is malformed") from exc
    subject = claims.get("sub")
    # The id is stored as text: PostgreSQL refuses NUL, which would fail every request (500).
    if (
        not isinstance(subject, str)
        or not subject
        or len(subject) > MAX_USER_ID_LENGTH
        or "\x00" in subject
        or not _utf8(subject)
    ):
        raise AuthError(_BAD_SUBJECT)
    return Identity(subject, _email(claims, settings.auth_email_claim))


def _bad_algorithm(algorithms: list[str]) -> str:
    return f"token algorithm is not accepted (expected {' or '.join(algorithms)})"


def _provider_key(token: str, settings: Settings) -> jwt.PyJWK:
    """The JWKS key the token names, looked up only for an algorithm this mode accepts."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise AuthError("token is malformed") from exc
    if header.get("alg") not in JWKS_ALGORITHMS:
        raise AuthError(_bad_algorithm(list(JWKS_ALGORITHMS)))
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise AuthError("token has no 'kid' header naming its key")
    key = _key_set(settings).key_for(kid)
    if key is None:
        raise AuthError("token key id is not one of the identity provider's keys")
    return key


def _email(claims: dict[str, Any], claim: str) -> str | None:
    """The address to notify: a plausible one, and never one the provider says is unverified."""
    value = claims.get(claim)
    if claims.get("email_verified") is False or not isinstance(value, str):
        return None
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(value) > MAX_EMAIL_LENGTH
        or any(c.isspace() or not c.isprintable() for c in value)
        or not _utf8(value)
    ):
        return None
    return value
