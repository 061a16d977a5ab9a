"""`python scripts/chaos.py`: the reliability scenarios at sizes of your choosing.

Each scenario gets a scratch PostgreSQL database of its own (created, migrated, dropped) on the
server of `--database-url`, and a unique key prefix on the Redis of `--redis-url`, behind an
in-process local Upstash. Prints, per scenario, what was attempted, the faults injected and the
lost / duplicated / stale counts; exits 1 when any of them is not zero.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from tooling.chaos.env import ChaosEnv, Secrets, new_prefix, scratch_database
from tooling.chaos.result import ScenarioResult
from tooling.chaos.scenarios.concurrent import ConcurrentSize, run_concurrent
from tooling.chaos.scenarios.faults import FaultSize, run_faults
from tooling.chaos.scenarios.flush import FlushSize, run_flush
from tooling.chaos.scenarios.kill import KillSize, run_kill
from tooling.chaos.scenarios.pathological import PathologicalSize, run_pathological
from tooling.chaos.scenarios.pg_restart import RestartSize, run_pg_restart
from tooling.chaos.scenarios.poison import PoisonSize, run_poison
from tooling.chaos.security import SecuritySize, run_security
from tooling.upstash_local import LocalUpstash

Runner = Callable[[ChaosEnv, argparse.Namespace, Callable[[], Any]], ScenarioResult]


def _app_factory() -> Any:
    from api._http.app import create_app

    return create_app()


RUNNERS: dict[str, Runner] = {
    "kill": lambda env, a, app: run_kill(
        env, KillSize(users=a.users, per_user=a.per_user, kills=a.kills, batch_size=a.batch_size)
    ),
    "concurrent": lambda env, a, app: run_concurrent(
        env,
        ConcurrentSize(users=a.users, operations=a.operations, drains=4, batch_size=a.batch_size),
        app,
    ),
    "faults": lambda env, a, app: run_faults(
        env, FaultSize(users=a.users, operations=a.operations, batch_size=a.batch_size), app
    ),
    "pg_restart": lambda env, a, app: run_pg_restart(
        env, RestartSize(users=a.users, per_user=a.per_user, restarts=a.restarts)
    ),
    "flush": lambda env, a, app: run_flush(
        env, FlushSize(users=a.users * 2, reconcile_batch=max(1, a.users // 4)), app
    ),
    "poison": lambda env, a, app: run_poison(
        env, PoisonSize(users=a.users, operations=a.users * 3, batch_size=a.batch_size), app
    ),
    "pathological": lambda env, a, app: run_pathological(
        env,
        PathologicalSize(
            normal_users=a.users,
            per_user=a.per_user,
            pathological_users=max(1, a.users // 10),
            batch_size=a.batch_size,
        ),
        app,
    ),
    "security": lambda env, a, app: run_security(env, SecuritySize(a.fuzz_examples), app),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/chaos.py", description=__doc__)
    parser.add_argument("--scenarios", default=",".join(RUNNERS), help="comma-separated")
    parser.add_argument("--users", type=int, default=200, help="users per scenario")
    parser.add_argument("--per-user", type=int, default=300, help="transactions of seeded users")
    parser.add_argument("--operations", type=int, help="API writes (default: 10 per user)")
    parser.add_argument("--kills", type=int, default=15, help="SIGKILLed drains")
    parser.add_argument("--restarts", type=int, default=5, help="PostgreSQL restarts")
    parser.add_argument("--batch-size", type=int, default=10, help="ids per claim")
    parser.add_argument("--fuzz-examples", type=int, default=100, help="per operation and mode")
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    args.operations = args.operations or args.users * 10
    unknown = set(args.scenarios.split(",")) - set(RUNNERS)
    if unknown:
        parser.error(
            f"unknown scenarios: {', '.join(sorted(unknown))} (known: {', '.join(RUNNERS)})"
        )
    return args


def table(results: list[ScenarioResult]) -> str:
    head = ("scenario", "operations", "faults injected", "lost", "duplicated", "stale", "seconds")
    rows = [
        (r.name, r.operations, r.faults_injected, r.lost, r.duplicated, r.stale, f"{r.seconds:.0f}")
        for r in results
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO) -> list[ScenarioResult]:
    results = []
    token = secrets.token_hex(20)
    with LocalUpstash(redis_url=args.redis_url, token=token) as upstash:
        for name in args.scenarios.split(","):
            with scratch_database(args.database_url) as url:
                env = ChaosEnv(
                    url,
                    upstash,
                    args.redis_url,
                    new_prefix(),
                    Secrets(cron=secrets.token_hex(20), jwt=secrets.token_hex(20)),
                )
                try:
                    result = RUNNERS[name](env, args, _app_factory)
                finally:
                    env.flush_queue()
            results.append(result)
            if not args.json:
                out.write(result.summary() + "\n\n")
                out.flush()
    return results


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parse_args(argv)
    results = run(args, out)
    if args.json:
        payload = [{**vars(r), "ok": r.ok} for r in results]
        out.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        out.write(table(results) + "\n")
    return 0 if all(r.ok for r in results) else 1
