"""The naive drain: the seed design's worker shape, kept only as the benchmark's baseline.

One job at a time, as a Bull-style worker runs them: claim one id (one Upstash request), run the
job for that one user (so every SQL query concerns one user, and a NullPool engine opens a
connection per job), settle it (another request). It runs the real job function, so the work is
exactly the drain's; only the batching differs.
"""

from __future__ import annotations

from core.drain.kinds import JobContext, JobKind
from core.queue import Failure, JobQueue


def naive_drain(kind: JobKind, queue: JobQueue, ctx: JobContext) -> int:
    """Drain until the queue is empty, one job per claim; returns how many jobs succeeded."""
    succeeded = 0
    while True:
        claim = queue.claim(1)
        if not claim.jobs:
            return succeeded
        try:
            result = kind.run(claim.jobs, ctx)
        except Exception as exc:
            # A baseline that silently skipped work would flatter the comparison: stop instead.
            queue.settle(claim, failed=[Failure(job.id, repr(exc)) for job in claim.jobs])
            raise
        queue.settle(claim, ok=result.ok, failed=result.failed)
        succeeded += len(result.ok)
