"""The read side of summaries: what `GET /api/summary` shows a user."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col

from core.base.models import FinancialSummary, User


class SummaryView(BaseModel):
    user_id: str
    stale: bool = Field(description="your data changed after this summary was computed")
    pending: bool = Field(description="a recomputation is due (queued, running or retrying)")
    computed_at: dt.datetime | None
    source_version: int = Field(description="the data version the figures were computed from")
    data_version: int
    currencies: dict[str, dict[str, Any]] = Field(
        description="figures per ISO 4217 currency; money in integer minor units"
    )


def read_summary(session: Session, user_id: str) -> SummaryView:
    """Never 404: a user with nothing computed yet gets an empty summary."""
    user = session.get(User, user_id)
    rows = list(
        session.scalars(
            sa.select(FinancialSummary)
            .where(col(FinancialSummary.user_id) == user_id)
            .order_by(col(FinancialSummary.currency))
        )
    )
    data_version = user.data_version if user else 0
    summary_version = user.summary_version if user else 0
    return SummaryView(
        user_id=user_id,
        stale=summary_version < data_version,
        pending=bool(user and user.summary_dirty_since is not None),
        computed_at=max((r.computed_at for r in rows), default=None),
        source_version=summary_version,
        data_version=data_version,
        currencies={r.currency: dict(r.figures) for r in rows},
    )
