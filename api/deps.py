"""Shared request dependencies: settings and the secret checks of the protected routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from pydantic import SecretStr

from core.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


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
