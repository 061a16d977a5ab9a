"""Runs the requested sections in one environment and gathers the report."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from pathlib import Path

from tooling.bench.built import measure_built_function
from tooling.bench.cold import measure_cold_start
from tooling.bench.connection import measure_connection
from tooling.bench.environment import BenchConfig, BenchEnvironment
from tooling.bench.freshness import measure_freshness
from tooling.bench.history import measure_history
from tooling.bench.memory import measure_memory
from tooling.bench.report import Meta, Report, Sections, evaluate
from tooling.bench.statement_import import measure_import
from tooling.bench.throughput import measure_drain
from tooling.bench.tick import measure_idle_tick
from tooling.bench.writes import measure_write_path

Echo = Callable[[str], None]


def machine() -> str:
    """The CPU model when Linux names it, else what the platform module knows."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return f"{platform.system()} {platform.machine()}, {model or platform.processor() or '?'}"


def run_benchmark(config: BenchConfig, command: str, echo: Echo) -> Report:
    sections: Sections = {}
    with BenchEnvironment(config) as env:
        postgres, redis_version = env.versions()
        echo(f"scratch database {env.database}, queue prefix {env.queue_prefix}")
        if config.sections & {1, 2}:
            drain, upstash = measure_drain(env, config, echo)
            if 1 in config.sections:
                sections["drain"] = drain
            if 2 in config.sections:
                sections["upstash"] = upstash
        if 3 in config.sections:
            sections["idle_tick"] = measure_idle_tick(env, config, echo)
        if 4 in config.sections:
            sections["cold_start"] = measure_cold_start(
                config.cold_runs, echo, config.cold_runtime_site
            )
        if 5 in config.sections:
            sections["statement_import"] = measure_import(env, config, echo)
        if 6 in config.sections:
            sections["write_path"] = measure_write_path(env, config, echo)
        if 7 in config.sections:
            sections["freshness"] = measure_freshness(env, config, echo)
        if 8 in config.sections:
            sections["history"] = measure_history(env, config, echo)
        if 9 in config.sections:
            sections["built_function"] = measure_built_function(
                config.built_runs, echo, config.built_bytecode
            )
        if 10 in config.sections:
            sections["memory"] = measure_memory(env, config, echo)
        if 11 in config.sections:
            sections["connection"] = measure_connection(env, config, echo)
        meta = Meta(
            date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            machine=machine(),
            cpus=os.cpu_count() or 0,
            python=platform.python_version(),
            postgres=postgres,
            redis=redis_version,
            command=command,
            database=env.database,
            queue_prefix=env.queue_prefix,
            seed=config.seed,
            sections=sorted(config.sections),
        )
    return Report(meta=meta, sections=sections, targets=evaluate(sections))
