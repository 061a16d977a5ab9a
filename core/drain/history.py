"""A user's background job history (`GET /api/jobs`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col

from core.base.models import BackgroundJob


class JobPublic(BaseModel):
    id: int
    kind: str
    status: str
    attempt: int
    trigger: str
    changed: bool
    source_version: int | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int
    error: str | None


class JobPage(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None


# Row ids are BIGINT: a larger number in a cursor would be a database error, not a bad cursor.
MAX_ID = 2**63 - 1


def parse_id(text: str) -> int:
    """A row id as this API writes it in a cursor (ASCII digits, within BIGINT)."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        raise ValueError("cursor is not one this API returned")
    return int(text)


def list_jobs(session: Session, user_id: str, limit: int, cursor: str | None) -> JobPage:
    """Newest first (by id, which grows with time), keyset-paginated."""
    query = sa.select(BackgroundJob).where(col(BackgroundJob.user_id) == user_id)
    if cursor:
        query = query.where(col(BackgroundJob.id) < parse_id(cursor))
    rows = list(session.scalars(query.order_by(col(BackgroundJob.id).desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return JobPage(
        items=[JobPublic.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=str(rows[-1].id) if more and rows else None,
    )
