"""The benchmark behind `scripts/bench.py` (`make bench`): the figures DESIGN.md asks for.

Real Postgres (a scratch database) and real Redis behind an in-process upstash_local, seeded
data, medians of repetitions, and every comparison a ratio measured in the same run. One
module per figure (`throughput`, `tick`, `cold`, `built`, `writes`, `statement_import`, ...),
`runner` runs them and `table` prints them. May import the product, `tooling.upstash_local` and
`tooling.vercel`; never `tests`.
"""

from tooling.bench.environment import BenchConfig
from tooling.bench.report import Report
from tooling.bench.runner import run_benchmark
from tooling.bench.table import render

__all__ = ["BenchConfig", "Report", "render", "run_benchmark"]
