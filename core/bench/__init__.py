"""The benchmark behind `scripts/bench.py` (`make bench`): the figures DESIGN.md asks for.

Real Postgres (a scratch database) and real Redis behind an in-process upstash_local, seeded
data, medians of repetitions, and every comparison a ratio measured in the same run.
"""

from core.bench.environment import BenchConfig
from core.bench.figures import Report
from core.bench.runner import run_benchmark
from core.bench.table import render

__all__ = ["BenchConfig", "Report", "render", "run_benchmark"]
