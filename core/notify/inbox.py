"""In-app notifications: built from what a job changed, listed and marked read by users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col

from core.base.models import Notification, utcnow
from core.base.money import display
from core.base.paging import parse_id
from core.summary.shapes import CurrencySummary

SUMMARY_UPDATED = "summary-updated"


def summary_notification(
    user_id: str, summaries: dict[str, CurrencySummary], now: datetime
) -> dict[str, Any]:
    """The row announcing a changed summary: net per currency, in plain words."""
    parts = [
        f"net {display(s.net_minor, c)} over {s.transaction_count} transactions"
        for c, s in sorted(summaries.items())
    ]
    body = "; ".join(parts) if parts else "You have no transactions left."
    return {
        "user_id": user_id,
        "kind": SUMMARY_UPDATED,
        "title": "Your financial summary was updated",
        "body": body[:2000],
        "data": {
            "currencies": {
                c: {
                    "income_minor": s.income_minor,
                    "expenses_minor": s.expenses_minor,
                    "net_minor": s.net_minor,
                    "transaction_count": s.transaction_count,
                }
                for c, s in sorted(summaries.items())
            }
        },
        "channels": {},
        "created_at": now,
    }


class NotificationPublic(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    channels: dict[str, Any] = Field(description="delivery result per optional channel")
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    unread: int
    next_cursor: str | None


class NotificationNotFound(LookupError):
    pass


def _read_flag() -> sa.ColumnElement[int]:
    return sa.case((col(Notification.read_at).is_(None), 0), else_=1)


def list_notifications(
    session: Session, user_id: str, limit: int, cursor: str | None
) -> NotificationPage:
    """Unread first, newest first within each group; keyset-paginated on (read, id)."""
    flag = _read_flag()
    query = sa.select(Notification).where(col(Notification.user_id) == user_id)
    if cursor:
        read, _, ident = cursor.partition(".")
        if read not in {"0", "1"}:
            raise ValueError("cursor is not one this API returned")
        after_read, after_id = int(read), parse_id(ident)
        query = query.where(
            sa.or_(flag > after_read, sa.and_(flag == after_read, col(Notification.id) < after_id))
        )
    rows = list(session.scalars(query.order_by(flag, col(Notification.id).desc()).limit(limit + 1)))
    unread = session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return NotificationPage(
        items=[NotificationPublic.model_validate(r, from_attributes=True) for r in rows],
        unread=int(unread or 0),
        next_cursor=f"{int(last.read_at is not None)}.{last.id}" if more and last else None,
    )


def mark_read(session: Session, user_id: str, notification_id: int) -> NotificationPublic:
    row = session.scalar(
        sa.select(Notification).where(
            col(Notification.id) == notification_id, col(Notification.user_id) == user_id
        )
    )
    if row is None:
        raise NotificationNotFound(notification_id)
    if row.read_at is None:
        row.read_at = utcnow()
        session.add(row)
        session.flush()
    return NotificationPublic.model_validate(row, from_attributes=True)
