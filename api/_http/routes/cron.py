from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api._http.deps import SettingsDep, require_cron_secret
from api._http.errors import RETRY_AFTER
from core.drain.runner import DrainOptions, DrainStats, StopReason, run
from functions import get_kind

router = APIRouter(tags=["cron"], dependencies=[Depends(require_cron_secret)])

PATH = "/api/cron/process-financial-summary-queue"


def _process(
    response: Response,
    settings: SettingsDep,
    max_jobs: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    budget_seconds: Annotated[float | None, Query(gt=0)] = None,
) -> DrainStats:
    """Drain the financial-summary queue within a time budget (capped by settings)."""
    budget = min(budget_seconds or settings.drain_budget_seconds, settings.drain_max_budget_seconds)
    stats = run(
        get_kind("financial-summary"),
        trigger="cron",
        opts=DrainOptions(
            budget_seconds=budget, max_jobs=max_jobs, batch_size=settings.drain_batch_size
        ),
        settings=settings,
    )
    if stats.stop_reason is StopReason.ERROR:
        # Lets cron-job.org (and Vercel) show the run as failed; the body says why.
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers.update(RETRY_AFTER)
    return stats


# cron-job.org and Vercel Cron send GET; POST is there for callers that prefer it.
for method in ("GET", "POST"):
    router.add_api_route(
        PATH,
        _process,
        methods=[method],
        response_model=DrainStats,
        name=f"process_financial_summary_queue_{method.lower()}",
    )
