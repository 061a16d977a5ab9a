"""Section 5: a large statement through the upload endpoint, against a bare bulk insert.

The floor COPYs the very rows the upload stores (parsed beforehand, outside the timing) straight
into `transactions` in one transaction: what storing them costs with the fastest bulk load
Postgres has, and no HTTP, no parsing, no staging table and no duplicate check. (The upload
COPYs too, so an INSERT floor would flatter it.)

Peak memory is the server's alone, traced with tracemalloc during one upload at the full size
and one at half of it: the difference says how memory grows with the file. The app runs for
this in a uvicorn server of its own process, as Vercel's Python runtime runs it, and a small
ASGI hook traces the requests that ask for it and tells the last peak. In process, FastAPI's
TestClient hands the app the whole body as one message, which Starlette's form parser slices
and spools in one piece (two copies of the file that a server reading its socket never makes),
and the client's allocations would share the tracer with the server's.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from sqlmodel import Session

from core.base.models import utcnow
from core.writes.accounts import DEFAULT_ACCOUNT, ensure_accounts
from core.writes.ledger import NewTransaction
from core.writes.statements import parse_statement
from core.writes.users import ensure_user
from tooling.bench.client import bearer, missing_route, multipart
from tooling.bench.data import statement_csv
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.measure import median, ratio
from tooling.bench.report import ImportFigures, Unavailable
from tooling.bench.server import TIMEOUT_SECONDS, child_server, serve

if TYPE_CHECKING:
    import httpx
    import psycopg
    from fastapi.testclient import TestClient
    from starlette.types import ASGIApp, Receive, Scope, Send

UPLOAD_PATH = "/api/transactions/upload"
# Answered by the hook, never by the app; only the benchmark's own server process has it.
PEAK_PATH = "/__bench/peak-memory"
TRACE_HEADER = "x-bench-trace-memory"
_SERVER = "from tooling.bench.statement_import import serve_traced; serve_traced()"
_COPY_FLOOR = (
    "COPY transactions (user_id, account_id, date, amount_minor, currency, description, "
    "category, import_key, created_at, updated_at) FROM STDIN"
)


def copy_rows(session: Session, user_id: str, rows: list[NewTransaction]) -> None:
    """COPY `rows` into `transactions` inside the session's transaction (the caller commits)."""
    account = ensure_accounts(session, user_id, [DEFAULT_ACCOUNT])[DEFAULT_ACCOUNT]
    driver = cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)
    now = utcnow()
    with driver.cursor() as cursor, cursor.copy(_COPY_FLOOR) as copy:
        for r in rows:
            copy.write_row(
                (user_id, account, r.date, r.amount_minor, r.currency, r.description, r.category,
                 r.import_key, now, now)
            )  # fmt: skip


@dataclass(slots=True)
class _Upload:
    env: BenchEnvironment
    client: TestClient
    uploads: int = 0
    samples: list[float] = field(default_factory=list)
    floor_samples: list[float] = field(default_factory=list)
    parse_samples: list[float] = field(default_factory=list)

    def _user(self, what: str) -> str:
        self.uploads += 1
        return f"bench-{what}-{self.uploads:04d}"

    def prepare(self, data: bytes) -> tuple[bytes, dict[str, str]]:
        """Body and headers of an upload by a new user (so no row is a duplicate)."""
        body, content_type = multipart("file", "statement.csv", data, "text/csv")
        headers = {**bearer(self._user("import"), self.env.settings), "Content-Type": content_type}
        return body, headers

    def send(self, body: bytes, headers: dict[str, str]) -> float:
        started = time.perf_counter()
        response = self.client.post(UPLOAD_PATH, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 201 or response.json().get("skipped") != 0:
            raise RuntimeError(f"upload failed: {response.status_code} {response.text[:500]}")
        return elapsed

    def parse(self, data: bytes) -> list[NewTransaction]:
        settings = self.env.settings
        started = time.perf_counter()
        parsed = parse_statement(
            data,
            "statement.csv",
            default_currency=settings.default_currency,
            max_bytes=settings.upload_max_bytes,
            max_rows=settings.upload_max_rows,
        )
        self.parse_samples.append(time.perf_counter() - started)
        return [
            NewTransaction(
                r.date, r.amount_minor, r.currency, r.description, r.category, r.import_key
            )
            for r in parsed.rows
        ]

    def floor(self, rows: list[NewTransaction]) -> float:
        user = self._user("floor")
        with Session(self.env.engine) as session:
            ensure_user(session, user)
            session.commit()
            started = time.perf_counter()
            copy_rows(session, user, rows)
            session.commit()
            return time.perf_counter() - started

    def measure_upload(self, data: bytes) -> None:
        self.samples.append(self.send(*self.prepare(data)))

    def measure_floor(self, rows: list[NewTransaction]) -> None:
        self.floor_samples.append(self.floor(rows))

    def peak_memory(self, server: httpx.Client, data: bytes) -> int:
        """Bytes the server allocated at the peak of one upload of `data`, traced in its process.

        The body is sent over a socket, as a deployment receives it; the client's memory is
        another process's.
        """
        body, headers = self.prepare(data)
        response = server.post(UPLOAD_PATH, content=body, headers={**headers, TRACE_HEADER: "1"})
        if response.status_code != 201:
            raise RuntimeError(f"upload failed: {response.status_code} {response.text[:500]}")
        return int(server.get(PEAK_PATH).raise_for_status().json()["peak_bytes"])


class PeakMemoryHook:
    """ASGI wrapper: traces the requests that send `TRACE_HEADER`, and answers `PEAK_PATH`.

    Tracing starts when the request reaches the app, before its body is read, and stops when
    the app is done, so the peak covers receiving the body, parsing the form, the import and the
    response. One request at a time: tracemalloc is process-wide. The client has its answer
    before the app is done (the server sends it as the app writes it), so `PEAK_PATH` waits for
    the traced request to finish: reading the peak at once gave the request before's (0 bytes
    for the first one).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.peak_bytes = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def _answer_peak(self, send: Send) -> None:
        await asyncio.wait_for(self._idle.wait(), TIMEOUT_SECONDS)
        body = json.dumps({"peak_bytes": self.peak_bytes}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PEAK_PATH:
            await self._answer_peak(send)
            return
        if scope["type"] != "http" or (TRACE_HEADER.encode(), b"1") not in scope["headers"]:
            await self.app(scope, receive, send)
            return
        self._idle.clear()
        tracemalloc.start()
        try:
            await self.app(scope, receive, send)
            self.peak_bytes = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            self._idle.set()


def serve_traced() -> None:
    """The server process: the app behind `PeakMemoryHook` under uvicorn, on a free port."""
    from api._http.app import create_app

    serve(PeakMemoryHook(create_app()))


def traced_server() -> AbstractContextManager[httpx.Client]:
    """A client of `serve_traced` in a child process, which is stopped on exit."""
    return child_server(_SERVER)


def measure_import(
    env: BenchEnvironment, config: BenchConfig, echo: Callable[[str], None]
) -> ImportFigures | Unavailable:
    from fastapi.testclient import TestClient

    from api._http.app import create_app

    app = create_app()
    unavailable = missing_route(app, "POST", UPLOAD_PATH)
    if unavailable is not None:
        echo(f"statement import: {unavailable['reason']}")
        return unavailable
    data = statement_csv(config.csv_rows, config.seed)
    half = statement_csv(config.csv_rows // 2 or 1, config.seed)
    echo(f"statement import: {config.csv_rows:,} rows, {len(data):,} bytes x{config.repeat}")
    with TestClient(app) as client:
        run = _Upload(env, client)
        run.send(*run.prepare(half))  # warm-up: the app's first request
        for rep in range(config.repeat):
            rows = run.parse(data)
            steps = (partial(run.measure_upload, data), partial(run.measure_floor, rows))
            for step in steps if rep % 2 == 0 else reversed(steps):
                step()
    with traced_server() as server:
        body, headers = run.prepare(half)
        # Warm-up, untraced: the server's first request imports and connects what it needs.
        server.post(UPLOAD_PATH, content=body, headers=headers).raise_for_status()
        peak, half_peak = run.peak_memory(server, data), run.peak_memory(server, half)
    seconds, floor = median(run.samples), median(run.floor_samples)
    return ImportFigures(
        available=True,
        rows=config.csv_rows,
        file_bytes=len(data),
        seconds=seconds,
        rows_per_second=config.csv_rows / seconds,
        parse_seconds=median(run.parse_samples),
        floor_seconds=floor,
        floor_rows_per_second=config.csv_rows / floor,
        ratio=ratio(seconds, floor),
        peak_memory_bytes=peak,
        memory_to_file_ratio=ratio(peak, len(data)),
        half_file_bytes=len(half),
        half_peak_memory_bytes=half_peak,
        memory_growth_per_file_byte=ratio(peak - half_peak, len(data) - len(half)),
        samples_seconds=run.samples,
        samples_floor_seconds=run.floor_samples,
    )
