"""The figures `scripts/bench.py` reports, as they appear in its JSON, and the targets they meet.

Every section is a TypedDict so the JSON shape is checked by mypy and read by the smoke test.
Sections 5 and 6 drive HTTP routes; when a route is missing they report `Unavailable` instead.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypedDict


class UpstashUsage(TypedDict):
    """What a stretch of work cost on the queue.

    `requests` are Upstash REST requests (counted by upstash_local); `billed` are the commands
    Redis ran for them, scripts' inner commands included (`INFO commandstats`). `clean` is False
    when another client ran commands on the same Redis meanwhile, so `billed` may be inflated.
    """

    requests: int
    billed: int
    by_command: dict[str, int]
    clean: bool


class DrainFigures(TypedDict):
    users: int
    transactions: int
    batch_size: int
    repeat: int
    seconds: float
    users_per_second: float
    naive_users: int
    naive_seconds: float
    naive_users_per_second: float
    speedup_vs_naive: float
    floor_seconds: float
    floor_users_per_second: float
    drain_to_floor: float
    # The drain's own reads (versions, stored summaries, last month's rows, cells) alone.
    own_reads_seconds: float
    own_reads_to_floor: float
    samples_seconds: list[float]
    samples_naive_seconds: list[float]
    samples_floor_seconds: list[float]
    samples_own_reads_seconds: list[float]


class UpstashFigures(TypedDict):
    """Billed figures come from the windows no other Redis client disturbed (`clean`: there
    was at least one such window for each figure)."""

    drain_requests_per_job: float
    drain_billed_per_job: float
    naive_requests_per_job: float
    naive_billed_per_job: float
    billed_ratio_naive_to_drain: float
    enqueue_requests_per_call: float
    enqueue_billed_per_call: float
    enqueue_pending_billed_per_call: float
    drain_billed_by_command: dict[str, int]
    clean: bool


class IdleTickFigures(TypedDict):
    ticks: int
    requests: int
    billed: int
    billed_by_command: dict[str, int]
    db_queries: int
    db_writes: int
    db_connections: int
    latency_seconds: float
    samples_latency_seconds: list[float]
    clean: bool


class ImportTime(TypedDict):
    module: str
    self_us: int
    cumulative_us: int


class ColdStartFigures(TypedDict):
    runs: int
    environment: str  # "runtime-only site" or "development environment"
    api_index_seconds: float
    bare_fastapi_seconds: float
    ratio: float
    samples_api_index_seconds: list[float]
    samples_bare_fastapi_seconds: list[float]
    importtime_top_cumulative: list[ImportTime]
    importtime_top_self: list[ImportTime]


class ImportFigures(TypedDict):
    available: Literal[True]
    rows: int
    file_bytes: int
    seconds: float
    rows_per_second: float
    parse_seconds: float
    floor_seconds: float
    floor_rows_per_second: float
    ratio: float
    peak_memory_bytes: int
    memory_to_file_ratio: float
    half_file_bytes: int
    half_peak_memory_bytes: int
    memory_growth_per_file_byte: float
    samples_seconds: list[float]
    samples_floor_seconds: list[float]


class WritePathFigures(TypedDict):
    available: Literal[True]
    requests: int
    with_enqueue_seconds: float
    without_enqueue_seconds: float
    ratio: float
    upstash_requests_per_write_with: float
    upstash_requests_per_write_without: float


class FreshnessSide(TypedDict):
    kick: bool
    single_p50_seconds: float
    single_p95_seconds: float
    burst_p50_seconds: float  # from a burst's last write
    burst_p95_seconds: float
    single_left_to_cron: int  # writes no kick made fresh: the next tick did
    burst_left_to_cron: int
    requests_per_single_write: float  # Upstash requests, the kick's included
    requests_per_burst_write: float
    recomputations_per_burst_max: int  # background_jobs rows per burst user, the tick's included
    recomputations_per_burst_mean: float
    write_answer_p50_seconds: float  # the write's own response time
    samples_single_seconds: list[float]
    samples_burst_seconds: list[float]


class FreshnessFigures(TypedDict):
    users: int
    bursts: int
    burst_writes: int
    txns_per_user: int
    cron_interval_seconds: float
    kick_budget_seconds: float
    kick_p95_seconds: float  # the larger of the single and the burst p95, kicks on
    extra_requests_per_write: float  # kicks on minus kicks off, the larger of the two shapes
    recomputations_per_burst_max: int  # kicks on
    p95_ratio_off_to_on: float
    kicks_on: FreshnessSide
    kicks_off: FreshnessSide


class HistoryPoint(TypedDict):
    rows_per_user: int
    users: int
    drain_users_per_second: float
    drain_ms_per_user: float
    change_write_ms: float  # one new transaction through the write path (refreshes its month)
    change_recompute_ms: float  # the job for that one user afterwards
    samples_change_recompute_seconds: list[float]


class HistoryFigures(TypedDict):
    points: list[HistoryPoint]
    recompute_ratio_largest_to_smallest: float
    drain_ms_ratio_largest_to_smallest: float


class BuiltSide(TypedDict):
    first_answer_seconds: float  # interpreter start to the first answered request (median)
    import_seconds: float  # interpreter start to the handler module imported (median)
    bundle_bytes: int
    pyc_files: int
    samples_first_answer_seconds: list[float]


class BuiltFunctionFigures(TypedDict):
    available: Literal[True]
    runs: int
    bytecode: bool  # built with VERCEL_PYTHON_COMPILEALL=1
    runtime: str
    tally: BuiltSide
    bare: BuiltSide
    ratio: float


class ConnectionFigures(TypedDict):
    available: Literal[True]
    requests: int
    warm_ms: float
    cold_ms: float
    ratio: float
    warm_connections_opened: int
    cold_connections_opened: int


class MemoryPoint(TypedDict):
    rows_per_user: int
    users: int
    floor_bytes: int
    peak_bytes: int
    drain_bytes: int


class MemoryFigures(TypedDict):
    batch_size: int
    points: list[MemoryPoint]
    peak_ratio_largest_to_smallest: float
    largest_peak_bytes: int


class Unavailable(TypedDict):
    available: Literal[False]
    reason: str


class Sections(TypedDict, total=False):
    drain: DrainFigures
    upstash: UpstashFigures
    idle_tick: IdleTickFigures
    cold_start: ColdStartFigures
    statement_import: ImportFigures | Unavailable
    write_path: WritePathFigures | Unavailable
    freshness: FreshnessFigures
    history: HistoryFigures
    built_function: BuiltFunctionFigures | Unavailable
    memory: MemoryFigures
    connection: ConnectionFigures | Unavailable


class Meta(TypedDict):
    date: str
    machine: str
    cpus: int
    python: str
    postgres: str
    redis: str
    command: str
    database: str
    queue_prefix: str
    seed: int
    sections: list[int]


class TargetResult(TypedDict):
    figure: str
    section: str
    key: str
    value: float | None
    op: Literal["<=", ">="]
    limit: float
    met: bool | None


class Report(TypedDict):
    meta: Meta
    sections: Sections
    targets: list[TargetResult]


# (what, section, key, op, limit): the targets at the default sizes.
TARGETS: tuple[tuple[str, str, str, Literal["<=", ">="], float], ...] = (
    ("drain vs naive drain (x faster)", "drain", "speedup_vs_naive", ">=", 15.0),
    ("drain vs database floor (x slower)", "drain", "drain_to_floor", "<=", 2.0),
    ("Upstash requests per drained job", "upstash", "drain_requests_per_job", "<=", 0.05),
    ("billed commands per drained job", "upstash", "drain_billed_per_job", "<=", 0.15),
    ("billed commands per enqueue", "upstash", "enqueue_billed_per_call", "<=", 3.0),
    ("idle tick: Upstash requests", "idle_tick", "requests", "<=", 1.0),
    ("idle tick: billed commands", "idle_tick", "billed", "<=", 2.0),
    ("cold import vs bare FastAPI (x)", "cold_start", "ratio", "<=", 1.5),
    ("statement import vs bulk insert (x)", "statement_import", "ratio", "<=", 3.0),
    (
        "import memory growth per file byte",
        "statement_import",
        "memory_growth_per_file_byte",
        "<=",
        1.0,
    ),
    ("write path with vs without enqueue (x)", "write_path", "ratio", "<=", 1.3),
    ("write -> fresh p95, kicks on (s)", "freshness", "kick_p95_seconds", "<=", 1.0),
    (
        "recomputations per burst of writes (max)",
        "freshness",
        "recomputations_per_burst_max",
        "<=",
        3.0,
    ),
    ("extra Upstash requests per write (kick)", "freshness", "extra_requests_per_write", "<=", 2.0),
    (
        "one change's recompute, largest vs smallest history (x)",
        "history",
        "recompute_ratio_largest_to_smallest",
        "<=",
        2.0,
    ),
    ("built function cold start vs bare FastAPI (x)", "built_function", "ratio", "<=", 1.5),
    (
        "drain peak memory, largest vs smallest history (x)",
        "memory",
        "peak_ratio_largest_to_smallest",
        "<=",
        1.5,
    ),
    ("summary read, warm connection (ms)", "connection", "warm_ms", "<=", 5.0),
)

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


def evaluate(sections: Sections) -> list[TargetResult]:
    """Each target with the measured value; `met` is None when its section did not run."""
    results: list[TargetResult] = []
    as_mapping: Mapping[str, Any] = sections
    for figure, section, key, op, limit in TARGETS:
        values: Mapping[str, Any] = as_mapping.get(section) or {}
        raw = values.get(key)
        value = float(raw) if isinstance(raw, int | float) else None
        met = None if value is None else _OPS[op](value, limit)
        results.append(
            TargetResult(
                figure=figure, section=section, key=key, value=value, op=op, limit=limit, met=met
            )
        )
    return results
