"""`python scripts/drain.py`: catch up on a backlog, inspect the queue, handle dead letters."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, TextIO

import httpx
from upstash_redis.errors import UpstashError

from core.base.settings import get_settings
from core.drain.kinds import JobKind
from core.drain.runner import DrainOptions, DrainStats, StopReason, run
from core.queue import JobQueue, QueueError
from core.queue.client import QueueNotConfigured, get_redis

BAR_WIDTH = 30


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/drain.py",
        description="Drain a Tally job queue now (the same work the cron endpoint does).",
    )
    parser.add_argument(
        "--kind", default="financial-summary", help="job kind (default: %(default)s)"
    )
    parser.add_argument("--max-jobs", type=int, help="stop after claiming this many jobs")
    parser.add_argument("--batch-size", type=int, help="ids per claim (default: DRAIN_BATCH_SIZE)")
    parser.add_argument(
        "--budget-seconds", type=float, help="stop before this many seconds (default: until empty)"
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--stats", action="store_true", help="print queue figures, do no work")
    action.add_argument("--dead", action="store_true", help="list dead-lettered ids")
    action.add_argument(
        "--requeue-dead", nargs="*", metavar="ID", help="requeue dead ids (all when none given)"
    )
    action.add_argument(
        "--purge-dead", nargs="*", metavar="ID", help="forget dead ids (all when none given)"
    )
    args = parser.parse_args(argv)
    for name in ("max_jobs", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.budget_seconds is not None and args.budget_seconds <= 0:
        parser.error("--budget-seconds must be positive")
    return args


class Progress:
    """A bar with rate and ETA on a terminal; a plain line per batch otherwise."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total = max(total, 1)
        self.out = out
        self.tty = out.isatty()
        self.started = time.monotonic()

    def __call__(self, stats: DrainStats) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = stats.claimed / elapsed
        self.total = max(self.total, stats.claimed)
        left = self.total - stats.claimed
        eta = f"{left / rate:5.0f}s" if rate > 0 else "    ?"
        if self.tty:
            done = int(BAR_WIDTH * stats.claimed / self.total)
            bar = "#" * done + "." * (BAR_WIDTH - done)
            self.out.write(
                f"\r[{bar}] {stats.claimed}/{self.total} {rate:7.1f}/s ETA {eta}"
                f" ok={stats.succeeded} failed={stats.failed}"
            )
        else:
            self.out.write(
                f"drained {stats.claimed} ok={stats.succeeded} failed={stats.failed}"
                f" rate={rate:.1f}/s eta={eta.strip()}\n"
            )
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")


def _print(data: Any, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for k, v in data.items():
            out.write(f"{k:<{width}}  {v}\n")
    else:
        for item in data:
            out.write(f"{item}\n")


def _queue_action(args: argparse.Namespace, queue: JobQueue, out: TextIO) -> int:
    if args.stats:
        _print(queue.stats().model_dump(), args.json, out)
    elif args.dead:
        letters = queue.dead_letters(limit=1000)
        if args.json:
            _print([d.model_dump(mode="json") for d in letters], True, out)
        else:
            lines = [
                f"{d.id}\tattempts={d.attempts}\t{d.dead_at:%Y-%m-%d %H:%M}\t{d.error}"
                for d in letters
            ]
            _print(lines or ["no dead letters"], False, out)
    elif args.requeue_dead is not None:
        _print({"requeued": queue.requeue_dead(args.requeue_dead)}, args.json, out)
    else:
        _print({"purged": queue.purge_dead(args.purge_dead)}, args.json, out)
    return 0


class _Interrupt:
    """First Ctrl-C: finish the current batch and stop. Second: stop now (the batch is released)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write("\nstopping after this batch (Ctrl-C again to stop now)\n")


def _drain(args: argparse.Namespace, queue: JobQueue, kind: JobKind, out: TextIO) -> int:
    settings = get_settings()
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt)
    progress = None if args.json else Progress(queue.stats().pending, out)
    try:
        stats = run(
            kind,
            trigger="cli",
            opts=DrainOptions(
                budget_seconds=args.budget_seconds,
                max_jobs=args.max_jobs,
                batch_size=args.batch_size or settings.drain_batch_size,
                should_stop=lambda: interrupt.requested,
                on_batch=progress,
            ),
            settings=settings,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
        if progress is not None:
            progress.finish()
    _print(stats.model_dump(mode="json"), args.json, out)
    if stats.stop_reason is StopReason.ERROR:
        return 2
    return 1 if stats.failed else 0


def main(
    resolve: Callable[[str], JobKind], argv: Sequence[str] | None = None, out: TextIO = sys.stdout
) -> int:
    """`resolve` maps a kind name to its job (the registry lives in `functions`)."""
    args = parse_args(argv)
    try:
        kind = resolve(args.kind)
    except KeyError as exc:
        sys.stderr.write(f"drain: {exc.args[0]}\n")
        return 2
    try:
        queue = JobQueue(get_redis(), kind.name, get_settings())
        if args.stats or args.dead or args.requeue_dead is not None or args.purge_dead is not None:
            return _queue_action(args, queue, out)
        return _drain(args, queue, kind, out)
    except QueueNotConfigured:
        sys.stderr.write(
            "drain: the queue is not configured: set UPSTASH_REDIS_REST_URL and _TOKEN\n"
        )
        return 2
    except (QueueError, UpstashError, httpx.HTTPError, json.JSONDecodeError) as exc:
        # One line, not a traceback: the queue (or the network to it) is down.
        sys.stderr.write(f"drain: the queue did not answer ({type(exc).__name__})\n")
        return 2
