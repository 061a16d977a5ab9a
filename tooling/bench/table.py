"""The report as a plain-text table: every figure, every ratio, and each target met or missed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tooling.bench.report import (
    BuiltFunctionFigures,
    ColdStartFigures,
    ConnectionFigures,
    DrainFigures,
    FreshnessFigures,
    FreshnessSide,
    HistoryFigures,
    IdleTickFigures,
    ImportFigures,
    MemoryFigures,
    Report,
    TargetResult,
    Unavailable,
    UpstashFigures,
    WritePathFigures,
)

Row = tuple[str, str]
DIRTY = "warning: another client used this Redis meanwhile; billed counts may be inflated"


def _drain(f: DrainFigures) -> list[Row]:
    per_user = f["transactions"] // max(f["users"], 1)
    workload = f"{f['users']:,} users x {per_user} txns, batch {f['batch_size']}"
    naive = f"({f['naive_seconds']:.2f} s for {f['naive_users']:,} users)"
    return [
        ("workload", f"{workload}, median of {f['repeat']}"),
        ("drain", f"{f['users_per_second']:,.0f} users/s ({f['seconds']:.2f} s)"),
        ("naive drain", f"{f['naive_users_per_second']:,.0f} users/s {naive}"),
        ("ratio drain / naive", f"{f['speedup_vs_naive']:.1f}x faster"),
        ("database floor", f"{f['floor_users_per_second']:,.0f} users/s"),
        ("", f"({f['floor_seconds']:.2f} s of batched reads)"),
        ("ratio drain / floor", f"{f['drain_to_floor']:.2f}x the floor"),
        ("the drain's own reads", f"{f['own_reads_seconds']:.2f} s (cells, not transactions)"),
        ("", f"({f['own_reads_to_floor']:.2f}x the floor before any computation or write)"),
    ]


def _cost(requests: float, billed: float) -> str:
    return f"{requests:.3f} requests, {billed:.3f} billed commands"


def _upstash(f: UpstashFigures) -> list[Row]:
    billed = ", ".join(f"{k} {v}" for k, v in f["drain_billed_by_command"].items())
    pending = f"{f['enqueue_pending_billed_per_call']:.2f} billed if the user is already pending"
    rows = [
        ("drain, per job", _cost(f["drain_requests_per_job"], f["drain_billed_per_job"])),
        ("naive drain, per job", _cost(f["naive_requests_per_job"], f["naive_billed_per_job"])),
        ("ratio billed naive / drain", f"{f['billed_ratio_naive_to_drain']:.1f}x"),
        ("enqueue, per call", _cost(f["enqueue_requests_per_call"], f["enqueue_billed_per_call"])),
        ("", f"({pending})"),
        ("drain's billed commands", billed),
    ]
    return rows if f["clean"] else [*rows, ("", DIRTY)]


def _tick(f: IdleTickFigures) -> list[Row]:
    database = f"{f['db_queries']} queries, {f['db_connections']} connections"
    rows = [
        ("Upstash", f"{f['requests']} requests, {f['billed']} billed commands"),
        ("database", f"{f['db_writes']} writes ({database})"),
        ("latency", f"{f['latency_seconds'] * 1000:.1f} ms (median of {f['ticks']} ticks)"),
    ]
    return rows if f["clean"] else [*rows, ("", DIRTY)]


def _cold(f: ColdStartFigures) -> list[Row]:
    top = f["importtime_top_cumulative"][:6]
    slowest = ", ".join(f"{m['module']} {m['cumulative_us'] / 1000:.0f} ms" for m in top)
    return [
        ("import api.index", f"{f['api_index_seconds']:.3f} s (median of {f['runs']})"),
        ("bare FastAPI app", f"{f['bare_fastapi_seconds']:.3f} s"),
        ("ratio", f"{f['ratio']:.2f}x"),
        ("slowest imports", slowest),
    ]


def _import(f: ImportFigures) -> list[Row]:
    mb = 1_000_000
    size = f"{f['rows']:,} rows, {f['file_bytes'] / mb:.1f} MB"
    half = f"{f['half_peak_memory_bytes'] / mb:.1f} MB for half the file"
    return [
        ("upload", f"{f['rows_per_second']:,.0f} rows/s ({f['seconds']:.2f} s for {size})"),
        ("", f"(parsing alone {f['parse_seconds']:.2f} s)"),
        ("bulk insert floor", f"{f['floor_rows_per_second']:,.0f} rows/s"),
        ("", f"({f['floor_seconds']:.2f} s)"),
        ("ratio upload / floor", f"{f['ratio']:.2f}x"),
        ("peak memory", f"{f['peak_memory_bytes'] / mb:.1f} MB"),
        ("", f"({f['memory_to_file_ratio']:.1f}x the file; {half})"),
        ("memory growth", f"{f['memory_growth_per_file_byte']:.1f} bytes per file byte"),
    ]


def _writes(f: WritePathFigures) -> list[Row]:
    upstash = f"{f['upstash_requests_per_write_with']:.2f} Upstash requests per write"
    return [
        ("with enqueue", f"{f['with_enqueue_seconds'] * 1000:.2f} ms ({upstash})"),
        ("queue disabled", f"{f['without_enqueue_seconds'] * 1000:.2f} ms"),
        ("", f"(median of {f['requests']} each, alternating)"),
        ("ratio", f"{f['ratio']:.2f}x"),
    ]


def _fresh_side(s: FreshnessSide, label: str) -> list[Row]:
    def pair(p50: float, p95: float) -> str:
        return f"p50 {p50:.3f} s, p95 {p95:.3f} s"

    left = f"{s['single_left_to_cron']} + {s['burst_left_to_cron']} left to the cron"
    single, burst = s["requests_per_single_write"], s["requests_per_burst_write"]
    upstash = f"{single:.2f} (single), {burst:.2f} (burst)"
    recomputed = (
        f"max {s['recomputations_per_burst_max']}, mean {s['recomputations_per_burst_mean']:.2f}"
    )
    return [
        (f"{label}: single writes", pair(s["single_p50_seconds"], s["single_p95_seconds"])),
        ("  bursts (from the last)", pair(s["burst_p50_seconds"], s["burst_p95_seconds"])),
        ("  left to the cron", left),
        ("  Upstash requests/write", upstash),
        ("  recomputations/burst", recomputed),
        ("  write answered (p50)", f"{s['write_answer_p50_seconds'] * 1000:.1f} ms"),
    ]


def _fresh(f: FreshnessFigures) -> list[Row]:
    workload = (
        f"{f['users']} single writes, {f['bursts']} bursts of {f['burst_writes']} in 1 s, "
        f"{f['txns_per_user']} txns of history; cron every {f['cron_interval_seconds']:.0f} s "
        "(scaled clock)"
    )
    return [
        ("workload", workload),
        *_fresh_side(f["kicks_on"], "kicks on"),
        *_fresh_side(f["kicks_off"], "kicks off"),
        ("extra requests/write", f"{f['extra_requests_per_write']:.2f} (kicks on - off)"),
        ("ratio p95 off / on", f"{f['p95_ratio_off_to_on']:,.0f}x"),
    ]


def _history(f: HistoryFigures) -> list[Row]:
    rows: list[Row] = []
    for p in f["points"]:
        label = f"{p['users']} users x {p['rows_per_user']:,} txns"
        drain = (
            f"drain {p['drain_users_per_second']:,.0f} users/s ({p['drain_ms_per_user']:.2f} ms)"
        )
        change = f"one change: write {p['change_write_ms']:.1f} ms, recompute"
        rows.append((label, f"{drain}; {change} {p['change_recompute_ms']:.2f} ms"))
    rows.append(
        ("ratio largest / smallest", f"recompute {f['recompute_ratio_largest_to_smallest']:.2f}x,"
         f" drain per user {f['drain_ms_ratio_largest_to_smallest']:.2f}x")
    )  # fmt: skip
    return rows


def _built(f: BuiltFunctionFigures) -> list[Row]:
    mb = 1_000_000
    tally, bare = f["tally"], f["bare"]
    code = "precompiled bytecode" if f["bytecode"] else "no bytecode (the builder's default)"
    return [
        ("built by", f"vercel build, {f['runtime']}, {code}"),
        ("Tally, first answer", f"{tally['first_answer_seconds']:.3f} s (median of {f['runs']})"),
        ("", f"(handler imported at {tally['import_seconds']:.3f} s)"),
        ("bare FastAPI, first answer", f"{bare['first_answer_seconds']:.3f} s"),
        ("", f"(handler imported at {bare['import_seconds']:.3f} s)"),
        ("ratio", f"{f['ratio']:.2f}x"),
        (
            "bundle",
            f"Tally {tally['bundle_bytes'] / mb:.1f} MB, bare {bare['bundle_bytes'] / mb:.1f} MB",
        ),
    ]


def _memory(f: MemoryFigures) -> list[Row]:
    mib = 1024 * 1024
    rows: list[Row] = []
    for p in f["points"]:
        label = f"{p['users']} users x {p['rows_per_user']:,} rows"
        floor = f"{p['floor_bytes'] / mib:.0f} MiB before the drain"
        rows.append((label, f"peak {p['peak_bytes'] / mib:.0f} MiB ({floor})"))
    ratio = f["peak_ratio_largest_to_smallest"]
    rows.append(("ratio largest / smallest", f"{ratio:.2f}x (batch {f['batch_size']})"))
    return rows


def _connection(f: ConnectionFigures) -> list[Row]:
    opened = f"{f['warm_connections_opened']} vs {f['cold_connections_opened']} connections opened"
    return [
        ("pooled (warm) connection", f"{f['warm_ms']:.2f} ms (median of {f['requests']})"),
        ("new connection each time", f"{f['cold_ms']:.2f} ms"),
        ("ratio new / pooled", f"{f['ratio']:.2f}x ({opened})"),
    ]


_SECTIONS: tuple[tuple[str, str, Callable[[Any], list[Row]]], ...] = (
    ("drain", "1. Drain throughput", _drain),
    ("upstash", "2. Upstash cost", _upstash),
    ("idle_tick", "3. Idle cron tick", _tick),
    ("cold_start", "4. Cold start", _cold),
    ("statement_import", "5. Statement import", _import),
    ("write_path", "6. Write-path enqueue overhead", _writes),
    ("freshness", "7. Freshness: write to fresh summary", _fresh),
    ("history", "8. History: drain and one change by history size", _history),
    ("built_function", "9. Built Vercel function", _built),
    ("memory", "10. Drain peak memory by history", _memory),
    ("connection", "11. Summary read: pooled vs new connection", _connection),
)


def _targets(targets: list[TargetResult]) -> list[str]:
    lines = ["Targets", f"  {'figure':<42} {'value':>10}  {'target':<9} result"]
    for t in targets:
        value = "-" if t["value"] is None else f"{t['value']:.3g}"
        result = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"  {t['figure']:<42} {value:>10}  {t['op']} {t['limit']:<6g} {result}")
    return lines


def render(report: Report) -> str:
    meta = report["meta"]
    lines = [
        f"Tally benchmark, {meta['date']}",
        f"{meta['machine']}, {meta['cpus']} cores; Python {meta['python']}, "
        f"PostgreSQL {meta['postgres']}, Redis {meta['redis']}",
        f"command: {meta['command']}",
    ]
    sections: Mapping[str, Any] = report["sections"]
    for key, title, rows_of in _SECTIONS:
        figures = sections.get(key)
        if figures is None:
            continue
        lines += ["", title]
        unavailable: Unavailable | None = figures if figures.get("available") is False else None
        rows = [("", unavailable["reason"])] if unavailable else rows_of(figures)
        lines += [f"  {label:<28} {value}" for label, value in rows]
    return "\n".join([*lines, "", *_targets(report["targets"])])
