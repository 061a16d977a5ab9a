"""The Starlette app: the Upstash REST protocol plus the `/_local/*` control endpoints."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tooling.upstash_local.backend import BackendUnavailable, RedisBackend
from tooling.upstash_local.protocol import (
    BadRequest,
    Command,
    ErrorSlot,
    Kind,
    ReplyError,
    ResultSlot,
    Slot,
    dump_json,
    encode_reply,
    encode_slot,
    kind_of_path,
    parse_body,
)
from tooling.upstash_local.state import Faults, ServerState

INJECTED_FAULT_MESSAGE = "injected fault"
# Upstash answers every command with a token the SDK sends back (read-your-writes across its
# replicas). One server here is always consistent, so the token only has to move on: any value
# a client sends, empty included, is accepted.
SYNC_TOKEN_HEADER = "Upstash-Sync-Token"  # noqa: S105 - a header name, not a secret
# The status nginx logs for a client that hung up before the answer; never actually received.
CLIENT_CLOSED_REQUEST = 499

Handler = Callable[[Request], Awaitable[Response]]


def create_app(token: str, redis_url: str | None = None) -> Starlette:
    """The ASGI app `LocalUpstash` serves: real Redis at `redis_url`, or an embedded one."""
    return build_app(ServerState(token, RedisBackend(redis_url)))


def build_app(state: ServerState) -> Starlette:
    endpoints = _Endpoints(state)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await state.backend.aclose()

    app = Starlette(
        routes=[
            Route("/_local/stats", endpoints.guarded(endpoints.get_stats), methods=["GET"]),
            Route(
                "/_local/stats/reset", endpoints.guarded(endpoints.reset_stats), methods=["POST"]
            ),
            Route("/_local/faults", endpoints.guarded(endpoints.get_faults), methods=["GET"]),
            Route("/_local/faults", endpoints.guarded(endpoints.put_faults), methods=["PUT"]),
            # Catch-all so `//pipeline` (the SDK with a base URL ending in "/") still matches.
            Route("/{path:path}", endpoints.protocol, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.upstash_local = state
    return app


def app_state(app: Starlette) -> ServerState:
    """The counters and faults behind an app made by `create_app`."""
    state = app.state.upstash_local
    if not isinstance(state, ServerState):
        raise TypeError("not an upstash_local app")
    return state


class DroppedResponse(Response):
    """A response lost on the network after the command ran.

    Headers announce the full Content-Length, half the body follows, and the app returns without
    finishing: uvicorn then closes the connection, so the client sees a transport error
    (httpx.RemoteProtocolError) instead of a reply, exactly as when a proxy drops a connection.
    """

    media_type = "application/json"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        partial = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": partial, "more_body": True})


def _error(status: int, message: str) -> Response:
    return Response(dump_json(ErrorSlot(error=message)), status, media_type="application/json")


class _Endpoints:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._sync_tokens = itertools.count(1)

    async def protocol(self, request: Request) -> Response:
        if not self.state.authorized(request.headers.get("authorization")):
            return _error(401, "Unauthorized")
        kind = kind_of_path(request.scope["path"])
        if kind is None:
            return _error(404, f"ERR unknown endpoint {request.scope['path']}")
        self.state.count_request()
        faults = self.state.faults
        if faults.latency_seconds > 0:
            await asyncio.sleep(faults.latency_seconds)
        if self.state.roll(faults.error_rate):
            self.state.count_injected_error()
            return _error(500, INJECTED_FAULT_MESSAGE)
        try:
            body = await request.body()
        except ClientDisconnect:
            # The client is gone (a drain killed mid-request): nothing ran, nobody to answer.
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        try:
            commands = parse_body(body, kind)
        except BadRequest as exc:
            return _error(400, str(exc))
        self.state.count_commands(command[0] for command in commands)
        as_base64 = request.headers.get("upstash-encoding", "").lower() == "base64"
        try:
            status, payload = await self._execute(kind, commands, as_base64)
        except BackendUnavailable as exc:
            return _error(502, str(exc))
        body = dump_json(payload)
        headers = {SYNC_TOKEN_HEADER: str(next(self._sync_tokens))}
        if self.state.roll(faults.drop_rate):
            self.state.count_dropped()
            return DroppedResponse(body, status, headers)
        return Response(body, status, headers, media_type="application/json")

    async def _execute(
        self, kind: Kind, commands: list[Command], as_base64: bool
    ) -> tuple[int, Slot | list[Slot]]:
        backend = self.state.backend
        if kind is Kind.SINGLE:
            [reply] = await backend.run(commands)
            if isinstance(reply, ReplyError):
                return 400, ErrorSlot(error=reply.message)
            return 200, ResultSlot(result=encode_reply(reply, as_base64))
        if kind is Kind.PIPELINE:
            replies = await backend.run(commands)
        else:
            outcome = await backend.run_atomic(commands)
            if isinstance(outcome, ReplyError):
                return 400, ErrorSlot(error=outcome.message)
            replies = outcome
        return 200, [encode_slot(reply, as_base64) for reply in replies]

    def guarded(self, handler: Handler) -> Handler:
        """The control endpoints take the same Bearer token as the protocol ones."""

        async def endpoint(request: Request) -> Response:
            if not self.state.authorized(request.headers.get("authorization")):
                return _error(401, "Unauthorized")
            return await handler(request)

        return endpoint

    async def get_stats(self, _: Request) -> Response:
        return JSONResponse(self.state.stats())

    async def reset_stats(self, _: Request) -> Response:
        self.state.reset_stats()
        return JSONResponse({"result": "OK"})

    async def get_faults(self, _: Request) -> Response:
        return JSONResponse(self.state.faults.view())

    async def put_faults(self, request: Request) -> Response:
        try:
            faults = Faults.from_json(json.loads(await request.body()))
        except ValueError as exc:  # also covers malformed JSON and undecodable bytes
            return _error(400, f"ERR invalid faults: {exc}")
        self.state.set_faults(faults)
        return JSONResponse(faults.view())
