"""Tally's figures against real Postgres and Redis: `python scripts/bench.py --help`.

Creates a scratch database and a queue prefix, measures, prints a table, writes the same figures
as JSON with `--json PATH`, and removes the database and the keys again.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path, not the repository root.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import logging
import shlex
import warnings

try:
    from tooling.bench import BenchConfig, render, run_benchmark
    from tooling.bench.environment import ALL_SECTIONS, DEFAULT_PG_URL, DEFAULT_REDIS_URL
except ImportError as exc:
    sys.stderr.write(
        f"bench: Tally's dependencies are not importable here ({exc.name or exc}).\n"
        "Use the project's environment: `make bench`, or `make venv` and `.venv/bin/python`.\n"
    )
    raise SystemExit(2) from None

DEFAULTS = BenchConfig()
NUMBERS = ", ".join(str(n) for n in sorted(ALL_SECTIONS))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _sections(text: str) -> frozenset[int]:
    try:
        chosen = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of {NUMBERS}, got {text!r}"
        ) from None
    if not chosen or not chosen <= ALL_SECTIONS:
        raise argparse.ArgumentTypeError(f"sections are numbered {NUMBERS}, got {text!r}")
    return chosen


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    add = parser.add_argument
    add("--users", type=_positive, default=DEFAULTS.users, help="users in the drain backlog")
    add("--txns-per-user", type=_positive, default=DEFAULTS.txns_per_user)
    add(
        "--naive-users",
        type=_positive,
        default=DEFAULTS.naive_users,
        help="users the naive drain processes (its rate is compared, not its total)",
    )
    add("--repeat", type=_positive, default=DEFAULTS.repeat, help="repetitions per timing")
    add(
        "--cold-runs",
        type=_positive,
        default=DEFAULTS.cold_runs,
        help="interpreter starts per side for the cold-start figure",
    )
    add(
        "--cold-from-venv",
        action="store_true",
        help="import from this environment, not a runtime-only site (no package download)",
    )
    add(
        "--built-runs",
        type=_positive,
        default=DEFAULTS.built_runs,
        help="cold starts per side of the built Vercel function (section 9)",
    )
    add(
        "--built-bytecode",
        action="store_true",
        help="build both functions with VERCEL_PYTHON_COMPILEALL=1 (precompiled bytecode)",
    )
    add(
        "--fresh-users",
        type=_positive,
        default=DEFAULTS.fresh_users,
        help="section 7: single writes",
    )
    add(
        "--bursts",
        type=_positive,
        default=DEFAULTS.bursts,
        help="section 7: users writing in bursts",
    )
    add(
        "--burst-writes",
        type=_positive,
        default=DEFAULTS.burst_writes,
        help="section 7: writes per burst, within one second",
    )
    add("--csv-rows", type=_positive, default=DEFAULTS.csv_rows, help="rows of the statement")
    add(
        "--memory-rows",
        type=lambda text: tuple(_positive(part) for part in text.split(",")),
        default=DEFAULTS.memory_rows,
        help="section 10: transactions per user at each step (default: 50,500,5000,10000)",
    )
    add(
        "--history-rows",
        type=lambda text: tuple(_positive(part) for part in text.split(",")),
        default=DEFAULTS.history_rows,
        help="section 8: transactions per user at each step (default: 50,500,5000,10000)",
    )
    add("--memory-users", type=_positive, help="section 10: users per step (default: a batch)")
    add("--seed", type=int, default=DEFAULTS.seed, help="seed of the generated data")
    add("--sections", type=_sections, default=ALL_SECTIONS, help="e.g. 1,2,3 (default: all)")
    add(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="admin URL; a scratch database tally_bench_* is created there and dropped",
    )
    add(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="Redis behind the in-process local Upstash (a dedicated one gives exact counts)",
    )
    add("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # Starlette's TestClient (sections 3, 5, 6) suggests another HTTP client; httpx is ours.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    config = BenchConfig(
        users=args.users,
        txns_per_user=args.txns_per_user,
        repeat=args.repeat,
        csv_rows=args.csv_rows,
        naive_users=args.naive_users,
        cold_runs=args.cold_runs,
        cold_runtime_site=not args.cold_from_venv,
        built_runs=args.built_runs,
        built_bytecode=args.built_bytecode,
        fresh_users=args.fresh_users,
        bursts=args.bursts,
        burst_writes=args.burst_writes,
        seed=args.seed,
        memory_rows=args.memory_rows,
        memory_users=args.memory_users,
        history_rows=args.history_rows,
        sections=args.sections,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
    )
    command = shlex.join(["python", "scripts/bench.py", *argv])
    report = run_benchmark(config, command, lambda line: print(line, file=sys.stderr, flush=True))
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
