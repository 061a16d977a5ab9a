"""`LocalUpstash`: the app served by uvicorn, in a background thread or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tooling.upstash_local.app import app_state, create_app
from tooling.upstash_local.snapshot import Snapshots
from tooling.upstash_local.state import Faults, Stats

if TYPE_CHECKING:
    import uvicorn

DEFAULT_TOKEN = "local-dev-token"  # noqa: S105 - the documented dev default, not a secret
STARTUP_TIMEOUT_SECONDS = 10.0
# Bounds how long stop() waits for a request still in flight (a long injected latency, say).
GRACEFUL_SHUTDOWN_SECONDS = 2
BACKLOG = 2048
_DROPPED_LOG_MESSAGE = "ASGI callable returned without completing response."


class _DroppedResponseFilter(logging.Filter):
    """uvicorn reports every deliberately dropped response as an error; those are expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROPPED_LOG_MESSAGE


class LocalUpstash:
    """An Upstash-compatible REST server for dev, tests and benchmarks.

    Forwards to the Redis at `redis_url`, or to an embedded in-process one when it is None.
    `port=0` picks a free port; `url` is known once the server is started. With `state_file`,
    the embedded data is loaded from that file at start and kept in it while serving (see
    `snapshot.py`); a real Redis keeps its own data, so the file is ignored then.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: Path | None = None,
    ) -> None:
        self.token = token
        self.app = create_app(token, redis_url)
        self._state = app_state(self.app)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        fake = self._state.backend.fake_server
        self._snapshots = (
            None if state_file is None or fake is None else Snapshots(fake, state_file)
        )

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    def start(self) -> LocalUpstash:
        """Serve in a daemon thread; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("already started")
        server, sock = self._prepare()
        self._start_snapshots()
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="upstash-local", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"upstash_local did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 5)
        self._stop_snapshots()

    def serve_forever(self, ready: Callable[[LocalUpstash], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM (uvicorn handles both).

        `ready` is called once the port is bound, before the first request is accepted.
        """
        server, sock = self._prepare()
        self._start_snapshots()
        if ready is not None:
            ready(self)
        try:
            server.run(sockets=[sock])
        finally:
            self._stop_snapshots()

    def _start_snapshots(self) -> None:
        if self._snapshots is not None:
            self._snapshots.load()
            self._snapshots.start()

    def _stop_snapshots(self) -> None:
        if self._snapshots is not None:
            self._snapshots.stop()

    def __enter__(self) -> LocalUpstash:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stats(self) -> Stats:
        return self._state.stats()

    def reset_stats(self) -> None:
        self._state.reset_stats()

    def set_faults(
        self,
        error_rate: float = 0.0,
        latency_seconds: float = 0.0,
        drop_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Replace the fault settings (arguments left out mean no fault of that kind)."""
        self._state.set_faults(Faults(error_rate, latency_seconds, drop_rate, seed))

    def clear_faults(self) -> None:
        self._state.set_faults(Faults())

    @property
    def faults(self) -> Faults:
        return self._state.faults

    def _prepare(self) -> tuple[uvicorn.Server, socket.socket]:
        import uvicorn

        # Binding here rather than in uvicorn makes the port known before serving (port 0).
        sock = bind_socket(self._host, self._port)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            http="h11",
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            backlog=BACKLOG,
        )
        _install_log_filter()
        return uvicorn.Server(config), sock


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn.

    The explicit IPPROTO_TCP matters: asyncio turns on TCP_NODELAY only for sockets whose proto
    says TCP, and without it every response waits ~40 ms for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening now lets clients queue in the backlog while uvicorn is still starting.
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DroppedResponseFilter) for f in logger.filters):
        logger.addFilter(_DroppedResponseFilter())
