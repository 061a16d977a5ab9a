"""`make dev`: the whole stack on this machine with embedded defaults.

Applies migrations to the local SQLite file (or DATABASE_URL), starts upstash_local (embedded
Redis, or REDIS_URL's), serves the API on :8000, creates a demo user and prints a token and
ready-to-paste curl lines. Ctrl-C stops everything.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts scripts/ first on the path; the repository root belongs there instead (and
# scripts/token.py must not shadow the standard library's `token` module).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import logging
import os
import re
import secrets

import uvicorn

from core.base.auth import mint_token
from core.base.db import get_engine
from core.base.migrate import upgrade
from core.base.settings import get_settings
from core.writes.users import ensure_user_with_engine
from tooling.upstash_local import LocalUpstash

DEMO_USER = "demo-user"
_TOKEN_IN_QUERY = re.compile(r"(token=)[^&\s]*")


class RedactTokens(logging.Filter):
    """The access log prints each path with its query: hide `?token=<secret>` there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def _banner(base: str, token: str, cron_secret: str, upstash: str) -> str:
    auth = f'-H "Authorization: Bearer {token}"'
    return f"""
Tally is running (Ctrl-C stops everything)

  API            {base}          docs: {base}/docs
  local Upstash  {upstash}
  demo user      {DEMO_USER}

  export TOKEN={token}
  curl {base}/api/health
  curl {auth} {base}/api/summary
  curl -X POST {auth} -H 'content-type: application/json' \\
       -d '{{"date":"2026-01-15","amount":"-12.50","currency":"USD","description":"Coffee"}}' \\
       {base}/api/transactions
  curl -H "Authorization: Bearer {cron_secret}" {base}/api/cron/process-financial-summary-queue
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    settings = get_settings()
    upgrade(settings.database_url)
    local: LocalUpstash | None = None
    if not settings.queue_configured:
        local = LocalUpstash(redis_url=settings.redis_url, token=secrets.token_urlsafe(24)).start()
        os.environ["UPSTASH_REDIS_REST_URL"] = local.url
        os.environ["UPSTASH_REDIS_REST_TOKEN"] = local.token
    if settings.cron_secret is None:
        os.environ["CRON_SECRET"] = secrets.token_urlsafe(24)
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.cron_secret is not None
    cron_secret = settings.cron_secret.get_secret_value()

    ensure_user_with_engine(get_engine(), DEMO_USER)
    token = mint_token(DEMO_USER, settings, ttl_seconds=7 * 86_400)
    base = f"http://{args.host}:{args.port}"
    print(_banner(base, token, cron_secret, settings.upstash_redis_rest_url), flush=True)
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    try:
        # uvicorn handles SIGINT/SIGTERM itself and returns once the server has shut down.
        uvicorn.run("api.index:app", host=args.host, port=args.port, log_level="info")
    finally:
        if local is not None:
            local.stop()
        print("Tally stopped.", flush=True)


if __name__ == "__main__":
    main()
