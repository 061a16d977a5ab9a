"""The FastAPI application: routers only; the work happens in `core` and `functions`."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api._http import docs, errors
from api._http.limits import BodyLimit
from api._http.routes import admin, cron, health, inbox, statements, summary, transactions
from core.base.logs import install_redaction
from core.base.settings import get_settings
from core.operator.overview import secret_values
from core.operator.page import STATIC_DIR


def create_app() -> FastAPI:
    settings = get_settings()  # fails start-up on unsafe production settings
    # Before anything logs: uvicorn's access log prints `?token=` queries, and whatever serves
    # the app (uvicorn, Vercel, Mangum on Lambda) logs through the same record factory.
    install_redaction(secret_values(settings))
    logging.basicConfig(level=settings.log_level)
    # httpx logs every request URL at INFO; the queue's URL is noise in function logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = FastAPI(
        title="Tally",
        summary="Keeps every user's financial summary up to date in the background.",
        version="0.1.0",
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN: /docs is served locally.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(health.router)
    app.include_router(cron.router)
    app.include_router(transactions.router)
    app.include_router(statements.router)
    app.include_router(summary.router)
    app.include_router(inbox.router)
    app.include_router(admin.page_router)
    app.include_router(admin.router)
    app.mount(admin.STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="admin-static")
    docs.install(app)
    app.add_middleware(BodyLimit)
    errors.install(app)
    return app
