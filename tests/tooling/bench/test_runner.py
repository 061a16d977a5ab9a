"""`scripts/bench.py` at tiny sizes, so it cannot rot. Never a timing threshold: timings on a
shared machine are noise; what is checked is that every figure and ratio is there and sane."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.conftest import PG_HOST, PG_USER, pg_url, unavailable
from tooling.bench.report import (
    TARGETS,
    BuiltFunctionFigures,
    ColdStartFigures,
    ConnectionFigures,
    DrainFigures,
    FreshnessFigures,
    HistoryFigures,
    IdleTickFigures,
    ImportFigures,
    MemoryFigures,
    Meta,
    UpstashFigures,
    WritePathFigures,
)

ROOT = Path(__file__).resolve().parents[3]
TINY = (
    *("--users", "20", "--txns-per-user", "5", "--naive-users", "10"),
    *("--repeat", "1", "--cold-runs", "1", "--csv-rows", "300", "--cold-from-venv"),
    *("--built-runs", "1"),
    *("--memory-rows", "5,40", "--memory-users", "10"),
    *("--fresh-users", "6", "--bursts", "2", "--burst-writes", "10"),
    *("--history-rows", "5,40"),
)
SECTIONS: dict[str, Any] = {
    "drain": DrainFigures,
    "upstash": UpstashFigures,
    "idle_tick": IdleTickFigures,
    "cold_start": ColdStartFigures,
    "statement_import": ImportFigures,
    "write_path": WritePathFigures,
    "freshness": FreshnessFigures,
    "history": HistoryFigures,
    "built_function": BuiltFunctionFigures,
    "memory": MemoryFigures,
    "connection": ConnectionFigures,
}
# The module's one benchmark run includes two `vercel build`s (section 9).
pytestmark = pytest.mark.timeout(900)
# Figures that may legitimately be zero (an idle tick writes nothing and, on a warm pooled
# connection, opens none; a write path without a queue sends nothing), and one that a tiny file
# may even make negative (allocator noise).
MAY_BE_ZERO = {"db_writes", "db_connections", "upstash_requests_per_write_without"}
ANY_SIGN = {"memory_growth_per_file_byte"}


@pytest.fixture(scope="module")
def admin_url() -> str:
    try:
        psycopg.connect(host=PG_HOST, user=PG_USER, dbname="postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", exc)
    return pg_url("postgres")


@pytest.fixture(scope="module")
def run(
    admin_url: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    args = ("--pg-url", admin_url, "--redis-url", redis_server, "--json", str(out))
    done = subprocess.run(
        [sys.executable, "scripts/bench.py", *TINY, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # Section 9 runs two real `vercel build`s (the pinned CLI is installed by then).
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def _numbers(figures: dict[str, Any]) -> dict[str, float]:
    return {
        k: v for k, v in figures.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_figure_and_ratio_is_reported(run: tuple[dict[str, Any], str], section: str) -> None:
    figures = run[0]["sections"][section]
    assert figures.get("available", True) is True, figures
    assert set(SECTIONS[section].__required_keys__) <= set(figures)
    numbers = {k: v for k, v in _numbers(figures).items() if k not in ANY_SIGN}
    assert numbers, "a section without a single figure"
    for key, value in numbers.items():
        assert value >= 0, (key, value)
        assert value > 0 or key in MAY_BE_ZERO, (key, value)
    for key, value in figures.items():
        if key.startswith("samples_"):
            assert value, key
            assert all(isinstance(s, float) and s > 0 for s in value), key


def test_the_counts_are_whole_and_the_idle_tick_writes_nothing(
    run: tuple[dict[str, Any], str],
) -> None:
    tick = run[0]["sections"]["idle_tick"]
    for key in ("requests", "billed", "db_writes", "db_queries", "db_connections"):
        assert isinstance(tick[key], int), key
    assert tick["db_writes"] == 0
    assert run[0]["sections"]["write_path"]["upstash_requests_per_write_without"] == 0
    upstash = run[0]["sections"]["upstash"]
    assert upstash["drain_billed_by_command"]
    assert upstash["enqueue_requests_per_call"] == 1


def test_every_target_has_a_value_and_a_verdict(run: tuple[dict[str, Any], str]) -> None:
    targets = run[0]["targets"]
    assert [(t["section"], t["key"]) for t in targets] == [(s, k) for _, s, k, _, _ in TARGETS]
    for target in targets:
        assert isinstance(target["value"], float), target
        assert isinstance(target["met"], bool), target


def test_the_table_shows_every_section_and_target(run: tuple[dict[str, Any], str]) -> None:
    report, table = run
    for title in ("Drain throughput", "Upstash cost", "Idle cron tick", "Cold start"):
        assert title in table
    for title in ("Statement import", "Write-path enqueue overhead", "Built Vercel function"):
        assert title in table
    for title in ("Freshness: write to fresh summary", "History: drain and one change"):
        assert title in table
    for title in ("Drain peak memory",):
        assert title in table
    for title in ("Summary read: pooled vs new connection",):
        assert title in table
    for figure, *_ in TARGETS:
        assert figure in table
    assert set(Meta.__required_keys__) <= set(report["meta"])
    assert "Summary read: pooled vs new connection" in table
    assert "not available" not in table


def test_memory_is_measured_per_history_size(run: tuple[dict[str, Any], str]) -> None:
    memory = run[0]["sections"]["memory"]
    assert [p["rows_per_user"] for p in memory["points"]] == [5, 40]
    for point in memory["points"]:
        assert point["users"] == 10
        assert point["peak_bytes"] >= point["floor_bytes"] > 10 * 1024 * 1024


def test_freshness_waits_for_the_tick_only_without_kicks(run: tuple[dict[str, Any], str]) -> None:
    """Never a timing threshold: with kicks off every write waited for the (scaled) tick, and a
    kick cost requests beyond the enqueue; each burst was computed at least once."""
    fresh = run[0]["sections"]["freshness"]
    on, off = fresh["kicks_on"], fresh["kicks_off"]
    assert (off["single_left_to_cron"], off["burst_left_to_cron"]) == (6, 2)
    assert off["requests_per_single_write"] == 1
    assert on["requests_per_single_write"] > off["requests_per_single_write"]
    assert off["recomputations_per_burst_max"] == 1
    assert on["recomputations_per_burst_max"] >= 1
    assert len(on["samples_single_seconds"]) == 6
    assert len(on["samples_burst_seconds"]) == 2


def test_history_is_measured_per_size(run: tuple[dict[str, Any], str]) -> None:
    history = run[0]["sections"]["history"]
    assert [p["rows_per_user"] for p in history["points"]] == [5, 40]
    for point in history["points"]:
        assert point["users"] >= 5
        assert point["change_recompute_ms"] > 0
        assert point["change_write_ms"] > 0


def test_the_pooled_side_reuses_its_connection(run: tuple[dict[str, Any], str]) -> None:
    connection = run[0]["sections"]["connection"]
    assert connection["warm_connections_opened"] <= 2
    assert connection["cold_connections_opened"] >= connection["requests"]


def test_leaves_no_database_and_no_keys_behind(
    run: tuple[dict[str, Any], str], redis_server: str
) -> None:
    meta = run[0]["meta"]
    with psycopg.connect(host=PG_HOST, user=PG_USER, dbname="postgres") as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (meta["database"],)
        ).fetchone()
    assert found == (0,)
    raw = redis.Redis.from_url(redis_server)
    try:
        assert not list(raw.scan_iter(match=f"{meta['queue_prefix']}:*"))
    finally:
        raw.close()
