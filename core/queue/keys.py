"""Every Redis key Tally uses is built here, from the prefix, the job kind and the part name."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Part(enum.StrEnum):
    PENDING = "pending"  # LIST of ids waiting, oldest first
    QUEUED = "queued"  # ZSET id -> enqueued-at ms; an id is pending at most once
    CLAIMS = "claims"  # HASH claim id -> JSON {"deadline": ms, "jobs": [[id, attempt], ...]}
    JOBS = "jobs"  # HASH id -> JSON {"attempts": n, "error": "..."} while an id has history
    RETRY = "retry"  # ZSET id -> due ms
    DEAD = "dead"  # ZSET id -> dead-lettered-at ms


def key(prefix: str, kind: str, part: Part) -> str:
    return f"{prefix}:{kind}:{part.value}"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    prefix: str
    kind: str

    def of(self, part: Part) -> str:
        return key(self.prefix, self.kind, part)

    @property
    def pending(self) -> str:
        return self.of(Part.PENDING)

    @property
    def queued(self) -> str:
        return self.of(Part.QUEUED)

    @property
    def claims(self) -> str:
        return self.of(Part.CLAIMS)

    @property
    def jobs(self) -> str:
        return self.of(Part.JOBS)

    @property
    def retry(self) -> str:
        return self.of(Part.RETRY)

    @property
    def dead(self) -> str:
        return self.of(Part.DEAD)

    def all(self) -> list[str]:
        return [self.of(part) for part in Part]
