"""The FastAPI application: routers only; the work happens in `core` and `functions`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api._http.limits import BodyLimit
from api._http.routes import admin, cron, health, inbox, summary, transactions
from core.base.settings import get_settings
from core.operator.page import STATIC_DIR
from core.writes.statements import StatementError


def _statement_rejected(request: Request, exc: StatementError) -> JSONResponse:
    errors = [{"line": e.line, "column": e.column, "reason": e.reason} for e in exc.errors]
    return JSONResponse({"detail": exc.message, "errors": errors}, status_code=exc.status)


def _utf8_safe(value: Any) -> Any:
    # A lone surrogate in the request (valid JSON: "\\ud800") has no UTF-8 form; echoed as is
    # in the error's `input`, it would turn the 422 into a 500 while encoding the answer.
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8_safe(k): _utf8_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_utf8_safe(v) for v in value]
    return value


def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own 422, with every string made encodable."""
    detail = _utf8_safe(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": detail}, status_code=422)


def create_app() -> FastAPI:
    settings = get_settings()  # fails start-up on unsafe production settings
    logging.basicConfig(level=settings.log_level)
    # httpx logs every request URL at INFO; the queue's URL is noise in function logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = FastAPI(
        title="Tally",
        summary="Keeps every user's financial summary up to date in the background.",
        version="0.1.0",
    )
    app.include_router(health.router)
    app.include_router(cron.router)
    app.include_router(transactions.router)
    app.include_router(summary.router)
    app.include_router(inbox.router)
    app.include_router(admin.router)
    app.mount(admin.STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="admin-static")
    app.add_middleware(BodyLimit)
    app.add_exception_handler(StatementError, _statement_rejected)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    return app
