"""Serve the Upstash REST protocol locally: `python scripts/upstash_local.py [--redis-url URL]`.

Without --redis-url the data lives in an embedded in-process Redis: gone on exit, unless
--state-file names a JSON file to load it from and keep it in (as `make dev` does).
Stops cleanly (exit status 0) on SIGINT or SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts scripts/ first on the path; the repository root belongs there instead (and
# scripts/token.py must not shadow the standard library's `token` module).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import contextlib
import signal
from types import FrameType

from tooling.upstash_local import DEFAULT_TOKEN, LocalUpstash


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8079)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument(
        "--redis-url", default=None, help="real Redis to forward to (default: embedded)"
    )
    parser.add_argument(
        "--state-file", type=Path, default=None, help="keep the embedded data in this file"
    )
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 500")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added per request")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of lost replies")
    parser.add_argument("--seed", type=int, default=None, help="seed for the fault dice")
    return parser.parse_args(argv)


def announce(server: LocalUpstash) -> None:
    print(f"upstash_local serving on {server.url}")
    print(f"UPSTASH_REDIS_REST_URL={server.url}")
    print(f"UPSTASH_REDIS_REST_TOKEN={server.token}", flush=True)


def exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = LocalUpstash(
        args.redis_url,
        token=args.token,
        host=args.host,
        port=args.port,
        state_file=args.state_file,
    )
    try:
        server.set_faults(
            error_rate=args.error_rate,
            latency_seconds=args.latency_ms / 1000,
            drop_rate=args.drop_rate,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it against the previous handler;
    # with the default one the process would die by the signal instead of exiting with 0.
    signal.signal(signal.SIGTERM, exit_quietly)
    # SIGINT ends as KeyboardInterrupt once uvicorn has shut down: a normal way to stop.
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(ready=announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
