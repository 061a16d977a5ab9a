"""Mint a user token for development: `python3 scripts/token.py USER_ID [--ttl-seconds N]`.

Signed with AUTH_JWT_SECRET (and AUTH_JWT_ISSUER / AUTH_JWT_AUDIENCE when set), exactly as
the app's own login would issue it. Use it with `Authorization: Bearer <token>`.
`--cron-secret` / `--admin-secret` print the secrets `make dev` generated (from .tally/dev.env),
for curl lines such as `-H "Authorization: Bearer $(python3 scripts/token.py --cron-secret)"`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path. Swap it for the repository root: the
# root makes `core` importable without an install, and scripts/token.py must not shadow the
# standard library's `token` module for everything this process imports.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from tooling.venv import use_project_python

use_project_python(__file__, f"make token ARGS='{' '.join(sys.argv[1:])}'")

import argparse

from core.base.auth import MAX_USER_ID_LENGTH, mint_token
from core.base.settings import get_settings


def main() -> int:
    parser = argparse.ArgumentParser(description="Mint a development user token.")
    parser.add_argument("user_id", nargs="?", help="the app's user id (becomes the token's `sub`)")
    parser.add_argument("--ttl-seconds", type=int, default=86_400, help="default: one day")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--cron-secret", action="store_true", help="print CRON_SECRET instead")
    which.add_argument(
        "--admin-secret", action="store_true", help="print the operator secret instead"
    )
    args = parser.parse_args()
    settings = get_settings()
    if args.cron_secret or args.admin_secret:
        secret = settings.cron_secret if args.cron_secret else settings.effective_admin_secret
        if secret is None:
            parser.exit(1, "token.py: no such secret is configured (is `make dev` running?)\n")
        print(secret.get_secret_value())
        return 0
    if args.user_id is None:
        parser.error("give a USER_ID (or --cron-secret / --admin-secret)")
    if not 0 < len(args.user_id) <= MAX_USER_ID_LENGTH:
        parser.error(f"user_id must be 1 to {MAX_USER_ID_LENGTH} characters")
    if args.ttl_seconds <= 0:
        parser.error("--ttl-seconds must be positive")
    print(mint_token(args.user_id, settings, ttl_seconds=args.ttl_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
