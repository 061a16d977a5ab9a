"""What a background job kind looks like to the drain runner.

A kind (see `functions/`) processes a whole batch of claimed ids at once and says, per id,
whether it succeeded. It may also offer a reconcile query: ids whose work is overdue according
to the database, which the runner enqueues again (the safety net for lost queue state).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine

from core.base.settings import Settings
from core.queue import ClaimedJob, Failure


@dataclass(frozen=True, slots=True)
class JobContext:
    kind: str
    run_id: str
    trigger: str
    settings: Settings
    engine: Engine
    clock: Callable[[], float] = time.time
    # When the batch must stop working (on `monotonic`'s scale; None: no limit). Ids not
    # reached by then go back in `BatchResult.released`, with no attempt counted.
    deadline: float | None = None
    # How long one id's work may take before it counts as that id's failure (None: no limit).
    share_seconds: float | None = None
    monotonic: Callable[[], float] = time.monotonic


@dataclass(slots=True)
class BatchResult:
    ok: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    # Ids whose result changed what the user sees (they were notified).
    changed: list[str] = field(default_factory=list)
    # Ids not worked on (the deadline came first): back to the queue, their attempt not counted.
    released: list[str] = field(default_factory=list)


class JobKind(Protocol):
    name: str

    def run(self, jobs: Sequence[ClaimedJob], ctx: JobContext) -> BatchResult:
        """Process the batch; an exception fails every id in it (to be retried), except one
        that says a database or the network is unreachable: that releases the batch."""
        ...

    def reconcile(self, ctx: JobContext, limit: int) -> list[str]:
        """Ids the database says are overdue (at most `limit`), oldest first."""
        ...
