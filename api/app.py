"""The FastAPI application: routers only; the work happens in `core` and `functions`."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.routes import cron, health
from core.settings import get_settings


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
    return app
