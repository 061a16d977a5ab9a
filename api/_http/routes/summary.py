from fastapi import APIRouter

from api._http.deps import CurrentUser, SessionDep
from core.summary.read import SummaryView, read_summary

router = APIRouter(tags=["summary"])


@router.get("/api/summary")
def get_summary(user: CurrentUser, session: SessionDep) -> SummaryView:
    """Your financial summary per currency, with `stale` and `pending` flags."""
    return read_summary(session, user)
