"""A user's background job history (`GET /api/jobs`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col

from core.base.models import BackgroundJob
from core.base.paging import parse_id


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
