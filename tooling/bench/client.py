"""Small helpers for the sections that drive the HTTP app in-process (FastAPI's TestClient)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from core.base.auth import mint_token
from core.base.settings import Settings
from tooling.bench.report import Unavailable

if TYPE_CHECKING:
    from fastapi import FastAPI


def missing_route(app: FastAPI, method: str, path: str) -> Unavailable | None:
    """`Unavailable` when the app does not route `method path` (yet), None when it does.

    Read from the OpenAPI document: the public list of what the app serves, however its
    routers are nested.
    """
    paths: dict[str, dict[str, object]] = app.openapi().get("paths", {})
    if method.lower() in paths.get(path, {}):
        return None
    return Unavailable(available=False, reason=f"not available yet: {method} {path} is not routed")


def bearer(user_id: str, settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(user_id, settings)}"}


def multipart(field: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    """A one-file multipart body and its Content-Type, built once outside any measurement."""
    boundary = secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + data + tail, f"multipart/form-data; boundary={boundary}"
