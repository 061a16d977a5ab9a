"""The Upstash job queue: `keys` (every Redis key from one function), `lua/` and `scripts` (the
Lua scripts, each headed by its KEYS/ARGV, called through one typed wrapper), `retry` (the
backoff policy, pure), `queue` (the transitions: enqueue, claim, ack, fail, requeue),
`error_text` (a failed job's error as it is kept and logged), `client` (the SDK client with
bounded timeouts) and `inspect` (read-only views for the operator). It knows user ids and job
kinds by name, nothing of what a job does. May import `core.base`.
"""

from core.queue.keys import Part, QueueKeys, key
from core.queue.queue import (
    Claim,
    ClaimedJob,
    DeadLetter,
    Failure,
    JobQueue,
    QueueStats,
    ReapResult,
    SettleResult,
)
from core.queue.scripts import QueueError

__all__ = [
    "Claim",
    "ClaimedJob",
    "DeadLetter",
    "Failure",
    "JobQueue",
    "Part",
    "QueueError",
    "QueueKeys",
    "QueueStats",
    "ReapResult",
    "SettleResult",
    "key",
]
