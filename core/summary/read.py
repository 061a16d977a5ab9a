"""The read side of summaries: what `GET /api/summary` shows a user."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col

from core.base.models import FinancialSummary, User


class SummaryFailure(BaseModel):
    """Why the recomputation gave up (it was dead-lettered), and how it is tried again."""

    error: str = Field(description="the last attempt's error, with any secret removed")
    attempts: int
    failed_at: dt.datetime
    how_to_retry: str


SummaryState = Literal["current", "pending", "failed"]


class SummaryView(BaseModel):
    user_id: str
    stale: bool = Field(description="your data changed after this summary was computed")
    pending: bool = Field(
        description="a recomputation is due (queued, running or retrying); false once failed"
    )
    state: SummaryState = Field(
        description="current: nothing due; pending: a recomputation is due; failed: it gave up"
        " after its last attempt (see `failure`) until an operator requeues it"
    )
    failure: SummaryFailure | None = Field(default=None, description="set when state is failed")
    computed_at: dt.datetime | None
    source_version: int = Field(description="the data version the figures were computed from")
    data_version: int
    currencies: dict[str, dict[str, Any]] = Field(
        description="figures per ISO 4217 currency; money in integer minor units"
    )


# How often a waiting read looks at the versions again: one primary-key read per look.
WAIT_POLL_SECONDS = 0.2
MAX_WAIT_SECONDS = 10.0
# Module names, so that tests can run the wait on a clock of their own.
_sleep = time.sleep
_monotonic = time.monotonic


def wait_until_fresh(session: Session, user_id: str, seconds: float) -> bool:
    """Wait until the user's summary reflects their latest data version, or `seconds` at most.

    Polls the versions (a primary-key read) every WAIT_POLL_SECONDS, sleeping in between: no
    busy loop. The reads share the session's one connection and its read transaction: each
    statement sees what committed before it (read committed), and no other connection is opened
    (with no pool, a new one per look would cost a connect each time). True when fresh.
    """
    query = sa.select(col(User.data_version), col(User.summary_version)).where(
        col(User.id) == user_id
    )
    deadline = _monotonic() + min(seconds, MAX_WAIT_SECONDS)
    while True:
        row = session.execute(query).first()
        if row is None or row[1] >= row[0]:
            return True
        left = deadline - _monotonic()
        if left <= 0:
            return False
        _sleep(min(WAIT_POLL_SECONDS, left))


def read_summary(
    session: Session,
    user_id: str,
    failure_of: Callable[[], SummaryFailure | None] | None = None,
) -> SummaryView:
    """Never 404: a user with nothing computed yet gets an empty summary. `failure_of` looks
    up the user's dead letter; it is called only when a recomputation is due."""
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
    due = bool(user and user.summary_dirty_since is not None)
    failure = failure_of() if due and failure_of is not None else None
    failed = failure is not None
    return SummaryView(
        user_id=user_id,
        stale=summary_version < data_version,
        pending=due and not failed,
        state="failed" if failed else "pending" if due else "current",
        failure=failure if failed else None,
        computed_at=max((r.computed_at for r in rows), default=None),
        source_version=summary_version,
        data_version=data_version,
        currencies={r.currency: dict(r.figures) for r in rows},
    )
