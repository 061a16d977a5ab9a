"""The FastAPI application: routers only; the work happens in `core` and `functions`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api._http.limits import BodyLimit
from api._http.routes import admin, cron, health, inbox, summary, transactions
from core.settings import get_settings
from core.statements import StatementError


def _statement_rejected(request: Request, exc: StatementError) -> JSONResponse:
    errors = [{"line": e.line, "column": e.column, "reason": e.reason} for e in exc.errors]
    return JSONResponse({"detail": exc.message, "errors": errors}, status_code=exc.status)


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
    app.add_middleware(BodyLimit)
    app.add_exception_handler(StatementError, _statement_rejected)  # type: ignore[arg-type]
    return app
