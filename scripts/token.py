"""Mint a user token for development: `python scripts/token.py USER_ID [--ttl-seconds N]`.

Signed with AUTH_JWT_SECRET (and AUTH_JWT_ISSUER / AUTH_JWT_AUDIENCE when set), exactly as
the app's own login would issue it. Use it with `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path. Swap it for the repository root: the
# root makes `core` importable without an install, and scripts/token.py must not shadow the
# standard library's `token` module for everything this process imports.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from core.base.auth import MAX_USER_ID_LENGTH, mint_token
from core.base.settings import get_settings


def main() -> int:
    parser = argparse.ArgumentParser(description="Mint a development user token.")
    parser.add_argument("user_id", help="the app's user id (becomes the token's `sub`)")
    parser.add_argument("--ttl-seconds", type=int, default=86_400, help="default: one day")
    args = parser.parse_args()
    if not 0 < len(args.user_id) <= MAX_USER_ID_LENGTH:
        parser.error(f"user_id must be 1 to {MAX_USER_ID_LENGTH} characters")
    if args.ttl_seconds <= 0:
        parser.error("--ttl-seconds must be positive")
    print(mint_token(args.user_id, get_settings(), ttl_seconds=args.ttl_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
