"""After a write: enqueue the user, then kick their summary once the response has gone out.

The kick is a background task (Starlette runs it after the response is sent; on Vercel the
runtime keeps the invocation alive for it), so it can neither delay nor change the answer. It
is scheduled only when the enqueue succeeded: with the queue down there is nothing to claim,
and the reconcile sweep finds the user from the dirty marker.
"""

from __future__ import annotations

from fastapi import BackgroundTasks

from core.base.db import get_engine
from core.base.settings import Settings
from core.drain import kick as kicks
from core.queue import JobQueue
from core.writes.ledger import SUMMARY_KIND, notify_queue
from functions import get_kind


def enqueue_and_kick(
    background: BackgroundTasks, queue: JobQueue | None, user_id: str, settings: Settings
) -> None:
    """Enqueue `user_id` (never raises) and, when that worked and kicks are on, schedule one."""
    if notify_queue(queue, user_id) and queue is not None and settings.kick_enabled:
        background.add_task(_kick, queue, user_id, settings)


def _kick(queue: JobQueue, user_id: str, settings: Settings) -> None:
    kicks.kick_after_write(get_kind(SUMMARY_KIND), queue, user_id, settings, get_engine())
