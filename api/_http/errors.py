"""The error format: every 4xx/5xx is a JSON object with `detail` (README, "Errors").

Request validation (422) answers one entry per problem: `loc` (FastAPI's location list), `field`
(the same path as text, without the `body`/`query` part), `msg` (a sentence for a person) and
`type` (pydantic's stable code). Nothing of the input is echoed back (a non-finite float in it
cannot even be written as JSON), and the names pydantic gives its internal validators never
appear. An unhandled exception is a 500 with a fixed message; what it was goes to the log only. A
database that cannot be reached is a 503 with `Retry-After` on every route.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from core.base.db import unreachable
from core.writes.statements import StatementError

log = logging.getLogger("tally.api")

# How long a client should wait before trying again after a 503 (an outage, not a refusal).
RETRY_AFTER_SECONDS = 30
RETRY_AFTER = {"Retry-After": str(RETRY_AFTER_SECONDS)}
DATABASE_DOWN = "the database is unreachable; nothing was changed, try again shortly"

# Tags of the body's object-or-list union (api._http.routes.transactions): which shape was sent
# is plain from the path itself ("amount" or "[3].amount"), so the tag is dropped from `loc`.
BODY_SHAPE_TAGS = frozenset({"object", "list"})
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
# Pydantic's prefixes for messages raised by validators ("Value error, amount must be ...").
_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


def _internal(segment: object, position: int, loc: Sequence[object]) -> bool:
    if not isinstance(segment, str):
        return False
    if position == 1 and loc[0] == "body" and segment in BODY_SHAPE_TAGS:
        return True
    # Names of wrapped validators and generic types: function-after[_valid(), Model], list[...]
    return segment.startswith(("function-", "list[", "tagged-union["))


def _field(loc: Sequence[object]) -> str:
    parts = loc[1:] if loc and loc[0] in _LOCATIONS else loc
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in _MESSAGE_PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix) :]
    # A lone surrogate (valid JSON: "\\ud800") has no UTF-8 form and would turn the 422 into a
    # 500 while the answer is encoded.
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as the API's problems: internals out, one entry per (place, message)."""
    seen: set[tuple[str, str]] = set()
    found: list[dict[str, Any]] = []
    for error in errors:
        raw = list(error.get("loc", ()))
        loc = [
            _text(part) if isinstance(part, str) else part
            for i, part in enumerate(raw)
            if not _internal(part, i, raw)
        ]
        if error.get("type") == "json_invalid":
            loc = loc[:1]  # the character offset means nothing to a person
        message = _message(error)
        field = _field(loc)
        if (field, message) in seen:
            continue
        seen.add((field, message))
        found.append({"loc": loc, "field": field, "msg": message, "type": str(error["type"])})
    return found


def _text(part: str) -> str:
    return part.encode("utf-8", "backslashreplace").decode("utf-8")


def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": problems(exc.errors())}, status_code=422)


def _statement_rejected(request: Request, exc: StatementError) -> JSONResponse:
    errors = [{"line": e.line, "column": e.column, "reason": e.reason} for e in exc.errors]
    return JSONResponse({"detail": exc.message, "errors": errors}, status_code=exc.status)


def _database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    if unreachable(exc):
        # The class only: a driver's message can hold the host, user or password of the URL.
        log.warning(
            "%s %s: database unreachable (%s)", request.method, request.url.path, type(exc).__name__
        )
        return JSONResponse({"detail": DATABASE_DOWN}, status_code=503, headers=RETRY_AFTER)
    log.error("%s %s: database error", request.method, request.url.path, exc_info=exc)
    return _unhandled(request, exc)


def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's server-error middleware calls this, then re-raises for the server to log the
    # traceback; the client learns nothing of what failed.
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StatementError, _statement_rejected)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(SQLAlchemyError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
