"""What a scenario reports: the same object for the pytest suite and for `make chaos`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScenarioResult:
    """Counts of what was attempted and what went wrong; every "wrong" count must be zero.

    operations: writes, drain runs, jobs and queue requests the scenario drove.
    faults_injected: kills, restarts, injected Upstash errors and dropped responses, flushes...
    lost: transactions written (2xx) but missing, or dirty users nothing in the queue explains.
    duplicated: the same id in two valid claims at once with no write in between, or a write
        stored twice.
    stale: users whose stored summary is older than their data or differs from the ground
        truth, plus summary writes that went backwards (stale overwrites).
    """

    name: str
    operations: int = 0
    faults_injected: int = 0
    lost: int = 0
    duplicated: int = 0
    stale: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    # Human-readable reasons behind any non-zero count, for the test's assertion message.
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.stale or self.problems)

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def summary(self) -> str:
        lines = [
            f"{self.name}: operations={self.operations} faults={self.faults_injected} "
            f"lost={self.lost} duplicated={self.duplicated} stale={self.stale} "
            f"({self.seconds:.1f}s)"
        ]
        lines += [f"  {key}: {value}" for key, value in sorted(self.details.items())]
        lines += [f"  PROBLEM: {p}" for p in self.problems[:50]]
        return "\n".join(lines)
