"""Reachability checks for the database and the queue (used by GET /api/health)."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel

from core.base.db import ping
from core.queue.client import QueueNotConfigured, get_redis

log = logging.getLogger(__name__)


class Check(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, Check]


def check_database() -> Check:
    try:
        ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the type is the detail
        log.warning("health: database unreachable (%s)", type(exc).__name__)
        return Check(ok=False, detail=f"database unreachable ({type(exc).__name__})")
    return Check(ok=True, detail="ok")


def check_queue() -> Check:
    try:
        reply = get_redis().ping()
    except QueueNotConfigured:
        return Check(
            ok=False, detail="queue not configured (set UPSTASH_REDIS_REST_URL and _TOKEN)"
        )
    except Exception as exc:  # noqa: BLE001 - as above; messages may quote URLs, so keep only the type
        log.warning("health: queue unreachable (%s)", type(exc).__name__)
        return Check(ok=False, detail=f"queue unreachable ({type(exc).__name__})")
    if reply != "PONG":
        return Check(ok=False, detail="queue answered unexpectedly")
    return Check(ok=True, detail="ok")


def health() -> Health:
    checks = {"database": check_database(), "queue": check_queue()}
    status: Literal["ok", "degraded"] = "ok" if all(c.ok for c in checks.values()) else "degraded"
    return Health(status=status, checks=checks)
