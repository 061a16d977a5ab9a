"""Request body limits, enforced before a body is parsed or spooled to disk."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.base.settings import get_settings

JSON_BODY_MAX_BYTES = 2 * 1024 * 1024
# Multipart framing and form fields around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit:,} bytes"


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI, reading a streamed body, passes it on as the 413
    it is; any other exception there becomes a 400 "error parsing the body"."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


class BodyLimit:
    """413 for a body over the limit: declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def _limit(self, path: str) -> int:
        if path.endswith("/upload"):
            return get_settings().upload_max_bytes + MULTIPART_OVERHEAD_BYTES
        return JSON_BODY_MAX_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reject(send, limit)


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps({"detail": _too_large(limit)})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
