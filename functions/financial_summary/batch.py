"""What the `financial-summary` job knows about one batch while it works on it.

`Batch` is filled by the read and the computation (`functions.financial_summary`) and consumed
by the write (`functions.financial_summary.store`); nothing in it outlives the batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.notify.channels import OutgoingNotification
from core.queue import ClaimedJob, Failure
from core.summary.cells import Cell, CellKey
from core.summary.shapes import CurrencySummary

KIND = "financial-summary"
# Figures that move with the calendar, not with the data: not a reason to notify anyone.
VOLATILE = {
    "as_of",
    "this_month",
    "last_month",
    "last_month_to_date",
    "expenses_change_bp",
    "computed_at",
}


@dataclass(slots=True)
class Computed:
    version: int
    summaries: dict[str, CurrencySummary]
    seconds: float
    # Each summary as its JSON document, dumped once for both the change test and the write.
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Batch:
    jobs: Sequence[ClaimedJob]
    versions: dict[str, int] = field(default_factory=dict)
    # Users whose rollup cells are built: their summary is read from the cells, not the rows.
    built: set[str] = field(default_factory=set)
    # Cells summed from the rows of users not built yet; stored with the summary (`store`).
    new_cells: dict[str, dict[CellKey, Cell]] = field(default_factory=dict)
    computed: dict[str, Computed] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    previous: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Inserted notifications, kept only when an optional channel will send them.
    outgoing: list[OutgoingNotification] = field(default_factory=list)
    emails: dict[str, str | None] = field(default_factory=dict)
    # Not computed: the deadline came first. Back to the queue, no attempt counted.
    released: list[str] = field(default_factory=list)
    # time.perf_counter() when the batch started: each job's duration is measured from it.
    clock_started: float = 0.0


def stable(figures: Any) -> dict[str, Any]:
    if isinstance(figures, str):  # JSON comes back as text from a raw query on SQLite
        figures = json.loads(figures)
    return {k: v for k, v in dict(figures).items() if k not in VOLATILE}
