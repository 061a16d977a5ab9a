from typing import Annotated

from fastapi import APIRouter, Query

from api._http.deps import CurrentUser, QueueDep, SessionDep, SettingsDep
from core.operator.failed import summary_failure
from core.summary.read import MAX_WAIT_SECONDS, SummaryView, read_summary, wait_until_fresh

router = APIRouter(tags=["summary"])


@router.get("/api/summary")
def get_summary(
    user: CurrentUser,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
    wait_seconds: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="wait up to this long for the summary to reflect your latest change",
        ),
    ] = 0,
) -> SummaryView:
    """Your financial summary per currency, with `stale`, `pending` and `state` (current,
    pending, or failed with the error and how it is retried).

    With `wait_seconds`, the answer comes as soon as the summary reflects your latest change
    (right after a write, the after-response kick is usually computing it), or after that many
    seconds with `stale: true`.
    """
    if wait_seconds > 0:
        wait_until_fresh(session, user, wait_seconds)
    return read_summary(session, user, lambda: summary_failure(queue, user, settings))
