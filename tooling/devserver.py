"""The local stack behind `make dev` (scripts/dev.py is its thin entry point).

Applies migrations to the local SQLite file (or DATABASE_URL), starts upstash_local (embedded
Redis kept on disk, or REDIS_URL's), serves the API on :8000, creates a demo user, writes the
endpoints and secrets to the state file (.tally/dev.env, see `tooling.devstate`) that every other
command reads, and prints ready-to-paste lines. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import socket
import sys
import threading
from pathlib import Path

import httpx
import uvicorn

from core.base.auth import mint_token
from core.base.db import get_engine
from core.base.migrate import upgrade
from core.base.settings import Settings, get_settings, state_dir
from core.writes.users import ensure_user_with_engine
from tooling import devstate
from tooling.upstash_local import LocalUpstash
from tooling.upstash_local.server import bind_socket
from tooling.venv import EXIT_INTERRUPTED, INTERRUPTED_MESSAGE, START_UP

DEMO_USER = "demo-user"
CRON_PATH = "/api/cron/process-financial-summary-queue"
TICK_TIMEOUT_SECONDS = 120.0
DEV_TOKEN_TTL_SECONDS = 30 * 86_400


class PortBusy(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make dev ARGS=...", description="Run Tally on this machine."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="the API (default: %(default)s)")
    parser.add_argument(
        "--upstash-port",
        type=int,
        default=None,
        help="the local Upstash (default: the one used last time if free, else any free port)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the SQLite file, the queue and dev.env live (default: the checkout's .tally/)",
    )
    parser.add_argument(
        "--tick-seconds",
        type=float,
        default=float(os.environ.get("DEV_TICK_SECONDS") or 60),
        help="call the cron endpoint this often, in place of cron-job.org; 0: never "
        "(default: DEV_TICK_SECONDS, else %(default)s)",
    )
    return parser.parse_args(argv)


class Tick:
    """The local cron: calls the cron endpoint (with `wait=true`, one run at a time) every
    `seconds`, as cron-job.org does in production, and prints a line when a run did work."""

    def __init__(self, url: str, secret: str, seconds: float) -> None:
        self._url, self._secret, self._seconds = url, secret, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dev-tick", daemon=True)

    def start(self) -> None:
        if self._seconds > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self._secret}"}
        while not self._stop.wait(self._seconds):
            try:
                response = httpx.get(
                    self._url,
                    params={"wait": "true"},
                    headers=headers,
                    timeout=TICK_TIMEOUT_SECONDS,
                )
            except httpx.HTTPError as exc:
                print(f"tick: the cron did not answer ({type(exc).__name__})", flush=True)
                continue
            if response.status_code != 200:
                print(f"tick: the cron answered {response.status_code}", flush=True)
                continue
            body = response.json()
            if body.get("claimed") or body.get("reconciled") or body.get("reclaimed"):
                print(
                    f"tick: drained {body.get('succeeded', 0)} job(s), "
                    f"{body.get('failed', 0)} failed, stop {body.get('stop_reason')}",
                    flush=True,
                )


def _bind(host: str, port: int, what: str, flag: str) -> socket.socket:
    try:
        return bind_socket(host, port)
    except OSError as exc:
        raise PortBusy(
            f"make dev: cannot listen on {host}:{port} for {what} ({exc.strerror}); "
            f"is another `make dev` running? Pick another port: make dev ARGS='{flag} {port + 1}'"
        ) from None


def _upstash_port(wanted: int | None, previous: dict[str, str]) -> int:
    if wanted is not None:
        return wanted
    match = re.fullmatch(r"http://[^/]+:(\d+)", previous.get("UPSTASH_REDIS_REST_URL", ""))
    if match is None:
        return 0
    with socket.socket() as probe:
        # As the server binds it: the last run's connections in TIME_WAIT must not move the URL.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", int(match.group(1))))
        except OSError:
            return 0
    return int(match.group(1))


def _start_queue(
    args: argparse.Namespace, own: Settings, previous: dict[str, str]
) -> LocalUpstash | None:
    """The embedded Upstash, unless the environment or `.env` names a real one."""
    if own.queue_configured:
        return None
    token = devstate.kept_secret("UPSTASH_REDIS_REST_TOKEN", None, previous)
    port = _upstash_port(args.upstash_port, previous)
    try:
        local = LocalUpstash(
            redis_url=own.redis_url,
            token=token,
            host=args.host,
            port=port,
            # A real Redis keeps its own data; the file is for the embedded one.
            state_file=state_dir() / "upstash-embedded.json",
        )
        return local.start()
    except OSError as exc:
        raise PortBusy(
            f"make dev: cannot listen on {args.host}:{port} for the local Upstash "
            f"({exc.strerror}); pick another: make dev ARGS='--upstash-port {port + 1}'"
        ) from None


def _state(own: Settings, local: LocalUpstash | None, previous: dict[str, str]) -> dict[str, str]:
    """What the second terminal needs; secrets set for this run win, else earlier ones stay."""
    values = {"DATABASE_URL": own.database_url}
    if local is not None:
        values["UPSTASH_REDIS_REST_URL"] = local.url
        values["UPSTASH_REDIS_REST_TOKEN"] = local.token
    for name, given in (("CRON_SECRET", own.cron_secret), ("ADMIN_SECRET", own.admin_secret)):
        values[name] = devstate.kept_secret(
            name, None if given is None else given.get_secret_value(), previous
        )
    return values


def _drains(kick: bool, tick: float) -> str:
    ways = ["after each write (kick)"] if kick else ["no kick (KICK_AFTER_WRITE=false)"]
    ways.append(f"local cron tick every {tick:g} s (--tick-seconds)" if tick > 0 else "no tick")
    return ", ".join(ways)


def _banner(
    base: str, token: str, cron_secret: str, admin_secret: str, upstash: str, drains: str
) -> str:
    auth = f'-H "Authorization: Bearer {token}"'
    # A state folder of its own (--state-dir) must reach the second terminal's commands too.
    default = Path(__file__).resolve().parents[1] / ".tally"
    folder = state_dir()
    where = "" if folder == default else f"TALLY_STATE_DIR={shlex.quote(str(folder))} "
    return f"""
Tally is running (Ctrl-C stops everything)

  API            {base}          docs: {base}/docs
  local Upstash  {upstash}
  demo user      {DEMO_USER}
  state file     {devstate.state_file()}  (read by scripts/drain.py, scripts/token.py, make)
  drains         {drains}

Paste into another terminal (these secrets stay the same across restarts):

  curl {base}/api/health
  curl -X POST {auth} -H 'content-type: application/json' \\
       -d '{{"date":"2026-01-15","amount":"-12.50","currency":"USD","description":"Coffee"}}' \\
       {base}/api/transactions
  curl -H "Authorization: Bearer {cron_secret}" {base}/api/cron/process-financial-summary-queue
  curl {auth} {base}/api/summary
  {where}make drain ARGS='--stats'

Operator page: {base}/api/admin  (it asks for the admin secret once: {admin_secret})
"""


def _serve(args: argparse.Namespace, api: socket.socket) -> None:
    own = Settings()  # the environment and .env only: not what an earlier run wrote
    previous = devstate.read(devstate.state_file())
    upgrade(own.database_url)
    local = _start_queue(args, own, previous)
    try:
        values = _state(own, local, previous)
        values["TALLY_DEV_URL"] = f"http://{args.host}:{args.port}"
        devstate.write(devstate.state_file(), values)
        os.environ.update(values)
        get_settings.cache_clear()
        settings = get_settings()
        ensure_user_with_engine(get_engine(), DEMO_USER)
        token = mint_token(DEMO_USER, settings, ttl_seconds=DEV_TOKEN_TTL_SECONDS)
        devstate.write(devstate.state_file(), {**values, "TALLY_DEV_TOKEN": token})
        START_UP.check()  # a Ctrl-C Python had to drop during start-up stops us here
        print(
            _banner(
                values["TALLY_DEV_URL"],
                token,
                values["CRON_SECRET"],
                values["ADMIN_SECRET"],
                settings.upstash_redis_rest_url,
                _drains(settings.kick_enabled, args.tick_seconds),
            ),
            flush=True,
        )
        START_UP.check()
        tick = Tick(values["TALLY_DEV_URL"] + CRON_PATH, values["CRON_SECRET"], args.tick_seconds)
        tick.start()
        # The app scrubs its own logs, uvicorn's access log included (core.base.logs).
        config = uvicorn.Config("api.index:app", log_level="info")
        # uvicorn handles SIGINT/SIGTERM itself, shuts down, then raises the signal again
        # against the previous handler: that KeyboardInterrupt is the normal way to stop.
        try:
            with contextlib.suppress(KeyboardInterrupt):
                uvicorn.Server(config).run(sockets=[api])
        finally:
            tick.stop()
    finally:
        if local is not None:
            local.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.state_dir is not None:
        os.environ["TALLY_STATE_DIR"] = str(args.state_dir.resolve())
    try:
        # Bound first: a busy port is one line before anything claims to be running.
        api = _bind(args.host, args.port, "the API", "--port")
        _serve(args, api)
    except PortBusy as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C while migrating or starting: nothing half-done worth a traceback.
        print(INTERRUPTED_MESSAGE, file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    print("Tally stopped.", flush=True)
    return 0
