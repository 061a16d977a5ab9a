"""A user's dead letter as their summary shows it: the error, scrubbed, and how to retry.

`GET /api/summary` asks only when the summary is due, so a current summary costs no Upstash
request and a due one costs one (three when the user is dead). The queue unreachable is no
error here: the summary is then shown as pending, as before this lookup existed.
"""

from __future__ import annotations

import logging

from core.base.settings import Settings
from core.operator.overview import redact, secret_values
from core.queue import JobQueue
from core.queue.inspect import dead_letter_of
from core.summary.read import SummaryFailure

log = logging.getLogger("tally.operator")

HOW_TO_RETRY = (
    "Gave up after the last attempt; an operator requeues it once the cause is fixed: "
    "`python scripts/drain.py --requeue-dead USER_ID`, the Requeue button on the operator page "
    '(/api/admin), or POST /api/admin/dead/requeue with {"ids": ["USER_ID"]}. '
    "A new change of your own queues it again too."
)


def public_error(error: str, settings: Settings) -> str:
    """The error without secrets, and without the SQL and parameters a driver error quotes."""
    text = error.split("\n[SQL:", 1)[0].split("\n(Background on", 1)[0]
    return redact(text, secret_values(settings)) or ""


def summary_failure(
    queue: JobQueue | None, user_id: str, settings: Settings
) -> SummaryFailure | None:
    if queue is None:
        return None
    try:
        letter = dead_letter_of(queue, user_id)
    except Exception as exc:  # noqa: BLE001 - the summary itself is still worth showing
        log.warning("summary: dead letter lookup failed (%s)", type(exc).__name__)
        return None
    if letter is None:
        return None
    return SummaryFailure(
        error=public_error(letter.error, settings),
        attempts=letter.attempts,
        failed_at=letter.dead_at,
        how_to_retry=HOW_TO_RETRY.replace("USER_ID", user_id),
    )
