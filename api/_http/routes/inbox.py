"""The user's notifications and job history."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError

from api._http.deps import CurrentUser, SessionDep, invalid
from core.drain.history import JobPage, list_jobs
from core.notify.inbox import (
    NotificationNotFound,
    NotificationPage,
    NotificationPublic,
    list_notifications,
    mark_read,
)

router = APIRouter(tags=["notifications"])

Limit = Annotated[int, Query(ge=1, le=200)]
# Ids are 64-bit: a larger number in the path is a 422, not a database error (500).
NotificationId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]
Cursor = Annotated[str | None, Query(max_length=100)]


def _bad_cursor(exc: ValueError, cursor: str | None) -> RequestValidationError:
    return invalid(("query", "cursor"), exc, cursor)


@router.get("/api/notifications")
def get_notifications(
    user: CurrentUser, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> NotificationPage:
    """Your notifications, unread first."""
    try:
        return list_notifications(session, user, limit, cursor)
    except ValueError as exc:
        raise _bad_cursor(exc, cursor) from None


@router.post("/api/notifications/{notification_id}/read")
def read_notification(
    notification_id: NotificationId, user: CurrentUser, session: SessionDep
) -> NotificationPublic:
    try:
        note = mark_read(session, user, notification_id)
    except NotificationNotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"notification {notification_id} not found"
        ) from None
    session.commit()
    return note


@router.get("/api/jobs", tags=["jobs"])
def get_jobs(
    user: CurrentUser, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> JobPage:
    """Your background job history, newest first."""
    try:
        return list_jobs(session, user, limit, cursor)
    except ValueError as exc:
        raise _bad_cursor(exc, cursor) from None
