"""User authentication: `Authorization: Bearer <JWT>`, HS256 signed with AUTH_JWT_SECRET."""

from __future__ import annotations

import time
from typing import Any

import jwt

from core.base.settings import Settings

ALGORITHM = "HS256"
MAX_USER_ID_LENGTH = 255
_BAD_SUBJECT = f"token 'sub' must be a non-empty string of at most {MAX_USER_ID_LENGTH} characters"


class AuthError(Exception):
    """The token is missing or unacceptable. The message is safe to return to the caller."""


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
    try:
        # Pinning the algorithm list is what refuses `alg: none` and RS/HS confusion.
        claims = jwt.decode(
            token,
            settings.auth_jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
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
        raise AuthError(f"token algorithm is not accepted (expected {ALGORITHM})") from exc
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
    return subject
