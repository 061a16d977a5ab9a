"""Shared request dependencies: settings and the secret checks of the protected routes."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from sqlmodel import Session

from core.base.auth import AuthError, AuthUnavailable, verify_identity
from core.base.db import get_engine
from core.base.settings import Settings, get_settings
from core.queue import JobQueue
from core.queue.client import get_redis
from core.writes.ledger import SUMMARY_KIND
from core.writes.users import remember_email

SettingsDep = Annotated[Settings, Depends(get_settings)]


def invalid(location: tuple[str, ...], exc: ValueError, value: object) -> RequestValidationError:
    """A 422 in the shape the OpenAPI document declares for every 422 (`detail` is a list of
    errors), so a value only the core can reject reads like any other invalid field."""
    error = {"type": "value_error", "loc": location, "msg": str(exc), "input": value}
    return RequestValidationError([error])


def _presented_secret(request: Request, token: str | None) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return token


def _check_secret(expected: SecretStr | None, presented: str | None, what: str) -> None:
    if expected is None or not expected.get_secret_value():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{what} is disabled: its secret is not configured",
        )
    # Constant-time on bytes: the comparison must not reveal how much of a guess was right.
    given = (presented or "").encode()
    if not presented or not hmac.compare_digest(given, expected.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong secret",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_cron_secret(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Query(description="the secret, if no header can be sent")] = None,
) -> None:
    """`Authorization: Bearer <CRON_SECRET>` (Vercel Cron, cron-job.org) or `?token=`."""
    _check_secret(settings.cron_secret, _presented_secret(request, token), "the cron endpoint")


def require_admin_secret(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Query(description="the secret, if no header can be sent")] = None,
) -> None:
    """`Authorization: Bearer <ADMIN_SECRET>` (falls back to CRON_SECRET) or `?token=`."""
    presented = _presented_secret(request, token)
    _check_secret(settings.effective_admin_secret, presented, "the admin API")


_bearer = HTTPBearer(
    auto_error=False,
    description="A JWT whose `sub` is your user id (HS256, or RS256/ES256 with AUTH_JWKS_URL)",
)


def current_user(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The user id of a valid `Authorization: Bearer <JWT>`; 401 with the reason otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        identity = verify_identity(credentials.credentials, settings)
    except AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    except AuthUnavailable as exc:
        # The token may well be good: the client should retry, not sign in again.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"}
        ) from None
    if identity.email is not None:
        # First sight of the address, or a changed one: one write; otherwise nothing.
        remember_email(get_engine(), identity.user_id, identity.email)
    return identity.user_id


CurrentUser = Annotated[str, Depends(current_user)]


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_summary_queue(settings: SettingsDep) -> JobQueue | None:
    """None when no queue is configured: writes still succeed and the sweep catches up."""
    if not settings.queue_configured:
        return None
    return JobQueue(get_redis(), SUMMARY_KIND, settings)


QueueDep = Annotated[JobQueue | None, Depends(get_summary_queue)]
