from fastapi import APIRouter

from api._http.deps import CurrentUser, QueueDep, SessionDep, SettingsDep
from core.operator.failed import summary_failure
from core.summary.read import SummaryView, read_summary

router = APIRouter(tags=["summary"])


@router.get("/api/summary")
def get_summary(
    user: CurrentUser, session: SessionDep, queue: QueueDep, settings: SettingsDep
) -> SummaryView:
    """Your financial summary per currency, with `stale`, `pending` and `state` (current,
    pending, or failed with the error and how it is retried)."""
    return read_summary(session, user, lambda: summary_failure(queue, user, settings))
