"""`python scripts/drain.py`: catch up on a backlog, inspect the queue, handle dead letters.

Exit status (also in `--help`): 0 done; 1 some jobs failed, or an id named is not a dead letter;
2 bad flags, or the queue is not configured or cannot be reached; 3 the queue refused the token
(401); 130 interrupted by Ctrl-C (the batch in hand is finished or handed back first).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Any, TextIO

import httpx
from upstash_redis.errors import UpstashError

from core.base.db import get_engine
from core.base.settings import Settings, get_settings
from core.drain.kinds import JobKind
from core.drain.runner import DrainOptions, DrainStats, StopReason, run
from core.operator.rebuild import RebuildResult, rebuild, verify
from core.queue import JobQueue, QueueError
from core.queue.client import QueueNotConfigured, get_redis
from core.queue.inspect import dead_among, retrying_jobs

BAR_WIDTH = 30
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 2
EXIT_UNAUTHORIZED = 3
EXIT_INTERRUPTED = 130
WATCH_INTERVAL_SECONDS = 2.0
LISTED = 1000
_EPILOG = """exit status: 0 done; 1 some jobs failed, or a named id is not a dead letter;
2 bad flags, or the queue is not configured or unreachable; 3 the queue refused the token (401);
130 interrupted (Ctrl-C)"""


class QueueUnreachable(RuntimeError):
    """One line for the operator: what went wrong with the queue, and the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/drain.py",
        description="Drain a Tally job queue now (the same work the cron endpoint does).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    action.add_argument(
        "--watch", action="store_true", help="show the queue figures live, until Ctrl-C"
    )
    action.add_argument(
        "--retrying",
        action="store_true",
        help="list ids waiting for a retry: next due, attempts, last error",
    )
    action.add_argument("--dead", action="store_true", help="list dead-lettered ids")
    action.add_argument(
        "--requeue-dead", nargs="*", metavar="ID", help="requeue dead ids (all when none given)"
    )
    action.add_argument(
        "--purge-dead", nargs="*", metavar="ID", help="forget dead ids (all when none given)"
    )
    action.add_argument(
        "--rebuild",
        nargs="*",
        metavar="USER",
        help="re-sum the rollup cells from the rows and recompute the summaries (all users"
        " when none given; in batches, resumable with --after)",
    )
    action.add_argument(
        "--verify", nargs="*", metavar="USER", help="compare the rollup cells with the rows"
    )
    parser.add_argument("--after", metavar="ID", help="--rebuild: start after this user id")
    parser.add_argument(
        "--interval",
        type=float,
        default=WATCH_INTERVAL_SECONDS,
        help="seconds between --watch refreshes (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be positive")
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


def _in(moment: datetime) -> str:
    seconds = (moment - datetime.now(UTC)).total_seconds()
    return f"in {seconds:.0f}s" if seconds >= 0 else f"overdue {-seconds:.0f}s"


def _list_retrying(queue: JobQueue, as_json: bool, out: TextIO) -> None:
    jobs = retrying_jobs(queue, limit=LISTED)
    if as_json:
        _print([j.model_dump(mode="json") for j in jobs], True, out)
        return
    lines = [
        f"{j.id}\tattempts={j.attempts}\tdue {j.due_at:%Y-%m-%d %H:%M:%S} ({_in(j.due_at)})"
        f"\t{j.error}"
        for j in jobs
    ]
    _print(lines or ["nothing is waiting for a retry"], False, out)


def _list_dead(queue: JobQueue, as_json: bool, out: TextIO) -> None:
    letters = queue.dead_letters(limit=LISTED)
    if as_json:
        _print([d.model_dump(mode="json") for d in letters], True, out)
        return
    lines = [
        f"{d.id}\tattempts={d.attempts}\t{d.dead_at:%Y-%m-%d %H:%M}\t{d.error}" for d in letters
    ]
    _print(lines or ["no dead letters"], False, out)


def _dead_action(args: argparse.Namespace, queue: JobQueue, out: TextIO) -> int:
    requeue = args.requeue_dead is not None
    named: list[str] = args.requeue_dead if requeue else args.purge_dead
    unknown = [i for i in named if i not in dead_among(queue, named)] if named else []
    done = queue.requeue_dead(named) if requeue else queue.purge_dead(named)
    result: dict[str, Any] = {"requeued" if requeue else "purged": done}
    if unknown:
        result["not_dead"] = unknown
        sys.stderr.write(f"drain: not dead letters (left alone): {', '.join(unknown)}\n")
    _print(result, args.json, out)
    return EXIT_FAILED if unknown else EXIT_OK


def _queue_action(args: argparse.Namespace, queue: JobQueue, out: TextIO) -> int:
    if args.stats:
        _print(queue.stats().model_dump(), args.json, out)
    elif args.retrying:
        _list_retrying(queue, args.json, out)
    elif args.dead:
        _list_dead(queue, args.json, out)
    else:
        return _dead_action(args, queue, out)
    return EXIT_OK


def _figures_line(queue: JobQueue) -> str:
    stats = queue.stats()
    oldest = stats.oldest_pending_age_seconds
    due = stats.next_retry_in_seconds
    return (
        f"{datetime.now(UTC):%H:%M:%S}  pending={stats.pending}"
        f" oldest={'-' if oldest is None else f'{oldest:.0f}s'} leased={stats.leased}"
        f" retrying={stats.retrying} next_retry={'-' if due is None else f'{due:.0f}s'}"
        f" dead={stats.dead}"
    )


def watch(queue: JobQueue, interval_seconds: float, out: TextIO) -> int:
    """The queue's figures every `interval_seconds` until Ctrl-C (the normal end: exit 0).

    A terminal gets one line redrawn in place; a pipe one line per refresh.
    """
    tty = out.isatty()
    try:
        while True:
            line = _figures_line(queue)
            out.write(f"\r\x1b[2K{line}" if tty else f"{line}\n")
            out.flush()
            time.sleep(interval_seconds)
    except KeyboardInterrupt:
        out.write("\n" if tty else "")
        return EXIT_OK


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
        return EXIT_UNAVAILABLE
    if stats.stop_reason is StopReason.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if stats.failed else EXIT_OK


def _rollups(args: argparse.Namespace, kind: JobKind, settings: Settings, out: TextIO) -> int:
    def report(line: str) -> None:
        sys.stderr.write(line + "\n")

    engine = get_engine()
    batch = args.batch_size or settings.drain_batch_size
    if args.verify is not None:
        drifted = verify(engine, report, users=args.verify or None, batch=batch)
        _print({"drifted": drifted}, args.json, out)
        return EXIT_FAILED if drifted else EXIT_OK
    done = RebuildResult()
    try:
        rebuild(
            engine, kind, settings, report, users=args.rebuild or None, batch=batch,
            after=args.after, result=done,
        )  # fmt: skip
    except KeyboardInterrupt:
        where = f" --after {done.last_user}" if done.last_user else ""
        sys.stderr.write(f"\ndrain: interrupted; resume with --rebuild{where}\n")
        return EXIT_INTERRUPTED
    _print({"users": done.users, "cells": done.cells, "failed": done.failed}, args.json, out)
    return EXIT_FAILED if done.failed else EXIT_OK


def _diagnose(exc: BaseException, settings: Settings) -> QueueUnreachable:
    """Tell a wrong token (401) from a queue that is down or unreachable.

    The SDK turns every error answer into the same exception and drops the status code, so the
    status is asked for once more with a plain PING.
    """
    url = settings.upstash_redis_rest_url
    if isinstance(exc, httpx.TransportError):
        return QueueUnreachable(
            f"cannot reach the queue at {url} ({type(exc).__name__})", EXIT_UNAVAILABLE
        )
    token = settings.upstash_redis_rest_token.get_secret_value()
    try:
        answer = httpx.post(
            url,
            json=["PING"],
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.upstash_timeout_seconds,
        )
    except httpx.HTTPError as probe:
        return QueueUnreachable(
            f"cannot reach the queue at {url} ({type(probe).__name__})", EXIT_UNAVAILABLE
        )
    if answer.status_code == httpx.codes.UNAUTHORIZED:
        return QueueUnreachable(
            f"the queue at {url} refused the token (401): check UPSTASH_REDIS_REST_TOKEN",
            EXIT_UNAUTHORIZED,
        )
    return QueueUnreachable(
        f"the queue at {url} answered with an error ({type(exc).__name__},"
        f" HTTP {answer.status_code})",
        EXIT_UNAVAILABLE,
    )


def _run(args: argparse.Namespace, resolve: Callable[[str], JobKind], out: TextIO) -> int:
    try:
        kind = resolve(args.kind)
    except KeyError as exc:
        sys.stderr.write(f"drain: {exc.args[0]}\n")
        return EXIT_UNAVAILABLE
    settings = get_settings()
    if args.rebuild is not None or args.verify is not None:
        return _rollups(args, kind, settings, out)  # the database only: no queue needed
    try:
        queue = JobQueue(get_redis(), kind.name, settings)
        if args.watch:
            return watch(queue, args.interval, out)
        if args.stats or args.retrying or args.dead or args.requeue_dead is not None:
            return _queue_action(args, queue, out)
        if args.purge_dead is not None:
            return _queue_action(args, queue, out)
        return _drain(args, queue, kind, out)
    except QueueNotConfigured:
        sys.stderr.write(
            "drain: the queue is not configured: set UPSTASH_REDIS_REST_URL and _TOKEN"
            " (or start `make dev`, which writes them to .tally/dev.env)\n"
        )
        return EXIT_UNAVAILABLE
    except (QueueError, UpstashError, httpx.HTTPError, json.JSONDecodeError) as exc:
        # One line, not a traceback: the queue (or the network to it) is down, or the token
        # is wrong.
        problem = _diagnose(exc, settings)
        sys.stderr.write(f"drain: {problem}\n")
        return problem.status


def main(
    resolve: Callable[[str], JobKind], argv: Sequence[str] | None = None, out: TextIO = sys.stdout
) -> int:
    """`resolve` maps a kind name to its job (the registry lives in `functions`)."""
    args = parse_args(argv)
    try:
        return _run(args, resolve, out)
    except KeyboardInterrupt:
        # Ctrl-C while connecting, or a second one mid-batch (the batch was handed back).
        sys.stderr.write("\ndrain: interrupted\n")
        return EXIT_INTERRUPTED
