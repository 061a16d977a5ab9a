from __future__ import annotations

import io

from core.drain.runner import DrainStats
from core.operator.cli import Progress, parse_args


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def stats(claimed: int, ok: int, failed: int = 0) -> DrainStats:
    return DrainStats(
        run_id="r", kind="k", trigger="cli", claimed=claimed, succeeded=ok, failed=failed
    )


def test_terminal_gets_a_bar_with_rate_and_eta() -> None:
    out = Terminal()
    progress = Progress(total=200, out=out)
    progress(stats(50, 49, 1))
    progress(stats(100, 99, 1))
    progress.finish()
    text = out.getvalue()
    assert "\r[" + "#" * 15 + "." * 15 + "] 100/200" in text
    assert "/s ETA" in text
    assert "ok=99 failed=1" in text
    assert text.endswith("\n")


def test_pipe_gets_plain_lines() -> None:
    out = io.StringIO()
    progress = Progress(total=10, out=out)
    progress(stats(5, 5))
    progress.finish()
    assert out.getvalue().startswith("drained 5 ok=5 failed=0 rate=")
    assert "\r" not in out.getvalue()


def test_flags_parse() -> None:
    args = parse_args(["--max-jobs", "3", "--batch-size", "2", "--budget-seconds", "1.5"])
    assert (args.max_jobs, args.batch_size, args.budget_seconds) == (3, 2, 1.5)
    assert parse_args(["--requeue-dead"]).requeue_dead == []
    assert parse_args(["--purge-dead", "a", "b"]).purge_dead == ["a", "b"]
