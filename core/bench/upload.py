"""Section 5: a large statement through the upload endpoint, against a bare bulk insert.

The floor COPYs the very rows the upload stores (parsed beforehand, outside the timing) straight
into `transactions` in one transaction: what storing them costs with the fastest bulk load
Postgres has, and no HTTP, no parsing, no staging table and no duplicate check. (The upload
COPYs too, so an INSERT floor would flatter it.) Peak memory is traced with tracemalloc during
one request (in a separate upload, since tracing slows Python down), at the full size and at
half of it: the difference says how memory grows with the file.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from sqlmodel import Session

from core.bench.client import bearer, missing_route, multipart
from core.bench.data import statement_csv
from core.bench.environment import BenchConfig, BenchEnvironment
from core.bench.figures import ImportFigures, Unavailable
from core.bench.measure import median, ratio
from core.ledger import NewTransaction
from core.models import utcnow
from core.statements import parse_statement
from core.users import ensure_user

if TYPE_CHECKING:
    import psycopg
    from fastapi.testclient import TestClient

UPLOAD_PATH = "/api/transactions/upload"
_COPY_FLOOR = (
    "COPY transactions (user_id, date, amount_minor, currency, description, category, "
    "import_key, created_at, updated_at) FROM STDIN"
)


def copy_rows(session: Session, user_id: str, rows: list[NewTransaction]) -> None:
    """COPY `rows` into `transactions` inside the session's transaction (the caller commits)."""
    driver = cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)
    now = utcnow()
    with driver.cursor() as cursor, cursor.copy(_COPY_FLOOR) as copy:
        for r in rows:
            copy.write_row(
                (user_id, r.date, r.amount_minor, r.currency, r.description, r.category,
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

    def peak_memory(self, data: bytes) -> int:
        """Bytes allocated at the peak of one upload, beyond what was allocated before it.

        The request body is built before tracing starts: it is the client's memory, not the
        server's (which gets its own copy of the bytes as they arrive, and that one counts).
        """
        body, headers = self.prepare(data)
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            self.send(body, headers)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak - before


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
        peak, half_peak = run.peak_memory(data), run.peak_memory(half)
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
