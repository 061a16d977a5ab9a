"""The Upstash job queue: keys, Lua scripts, retry policy and the transitions."""

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
