"""The cron endpoint: a drain of the financial-summary queue.

By default it answers 202 at once with the run's id and drains after the response (a
background task: Vercel's runtime keeps the invocation alive for it, billed while it runs under
Fluid compute) for up to DRAIN_MAX_BUDGET_SECONDS, which vercel.json's maxDuration covers. So a
scheduler's own timeout (cron-job.org gives up after 30 s) no longer bounds a tick. The run's
outcome is in `drain_runs` (an idle run, which found nothing to do, writes no row). `?wait=true`
drains before answering, within DRAIN_BUDGET_SECONDS, and answers with the run's figures (503
when it stopped on an error). On plain Lambda, where Mangum waits for background tasks before
it returns, a run is always synchronous.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api._http.deps import SettingsDep, require_cron_secret
from api._http.errors import RETRY_AFTER
from core.base.db import ping
from core.base.settings import Settings
from core.drain.runner import DrainOptions, DrainStats, StopReason, run
from functions import get_kind

router = APIRouter(tags=["cron"], dependencies=[Depends(require_cron_secret)])

PATH = "/api/cron/process-financial-summary-queue"
KIND = "financial-summary"


class RunAccepted(BaseModel):
    status: str = "accepted"
    run_id: str
    kind: str
    budget_seconds: float


def _drain(settings: Settings, opts: DrainOptions, run_id: str | None = None) -> DrainStats:
    return run(get_kind(KIND), trigger="cron", opts=opts, settings=settings, run_id=run_id)


def _process(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    settings: SettingsDep,
    max_jobs: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    budget_seconds: Annotated[float | None, Query(gt=0)] = None,
    wait: Annotated[
        bool, Query(description="drain before answering, and answer with the run's figures")
    ] = False,
) -> DrainStats | JSONResponse:
    """Drain the financial-summary queue within a time budget (capped by settings): 202 and
    after the response by default, or at once with the figures when `wait=true`."""
    # Nothing to claim without a queue: the answer (503) costs nothing, so give it now.
    # Under Mangum (plain Lambda) the invocation waits for background tasks anyway.
    under_mangum = "aws.event" in request.scope or settings.on_plain_lambda
    synchronous = wait or under_mangum or not settings.queue_configured
    default = settings.drain_budget_seconds if synchronous else settings.drain_max_budget_seconds
    budget = min(budget_seconds or default, settings.drain_max_budget_seconds)
    opts = DrainOptions(
        budget_seconds=budget, max_jobs=max_jobs, batch_size=settings.drain_batch_size
    )
    if not synchronous:
        # Accept only a run that can start: the database down is 503 (the error handler's
        # answer, with Retry-After), not a 202 for a run that would stop at once.
        ping()
        run_id = uuid.uuid4().hex
        background.add_task(_drain, settings, opts, run_id)
        accepted = RunAccepted(run_id=run_id, kind=KIND, budget_seconds=budget)
        return JSONResponse(accepted.model_dump(), status_code=status.HTTP_202_ACCEPTED)
    stats = _drain(settings, opts)
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
        responses={202: {"description": "draining after the response", "model": RunAccepted}},
        name=f"process_financial_summary_queue_{method.lower()}",
    )
