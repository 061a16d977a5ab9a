"""The operator view and the dead-letter actions, behind the admin secret."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, StringConstraints

from api._http.deps import QueueDep, SettingsDep, require_admin_secret
from api._http.errors import RETRY_AFTER
from core.base.db import get_engine
from core.operator.overview import (
    AdminOverview,
    DeadActionName,
    DeadActionResult,
    QueueUnavailable,
    dead_action,
    gather,
)
from core.operator.page import (
    CONTENT_SECURITY_POLICY,
    FILTERS,
    PAGE_TEMPLATE,
    TEMPLATES_DIR,
    page_context,
)
from core.writes.ledger import SUMMARY_KIND

PREFIX = "/api/admin"
# The page's stylesheet and script: public like any page asset (no data, no secret in them);
# `api/_http/app.py` mounts core/operator/static here.
STATIC_PATH = f"{PREFIX}/static"

router = APIRouter(prefix=PREFIX, tags=["admin"], dependencies=[Depends(require_admin_secret)])

# Autoescape on (Starlette's default, said again here): ids and errors must stay text.
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.autoescape = True
templates.env.filters.update(FILTERS)

# The page is opened with ?token=: keep it out of caches and out of Referer headers.
_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

UserId = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class DeadIds(BaseModel):
    """Which dead letters to act on: `ids` omitted (or no body at all) means all of them."""

    ids: list[UserId] | None = Field(default=None, max_length=10_000)


def _wants_html(output: str | None, accept: str) -> bool:
    if output is not None:
        return output == "html"
    # A browser asks for text/html first; curl and scripts send */* or application/json.
    return accept.split(",", 1)[0].strip().lower().startswith("text/html")


@router.get(
    "/queue",
    response_model=None,
    responses={
        200: {"model": AdminOverview, "content": {"text/html": {}}},
        503: {"description": "the queue or the database is unreachable (figures still shown)"},
    },
)
def get_queue(
    request: Request,
    queue: QueueDep,
    settings: SettingsDep,
    output: Annotated[
        Literal["json", "html"] | None,
        Query(alias="format", description="json or html (default: by the Accept header)"),
    ] = None,
) -> Response:
    """Queue depth, oldest pending age, leases, retries, dead letters and recent drain runs."""
    overview = gather(queue, get_engine(), SUMMARY_KIND, settings)
    code = status.HTTP_200_OK if overview.healthy else status.HTTP_503_SERVICE_UNAVAILABLE
    outage = {} if overview.healthy else RETRY_AFTER
    if _wants_html(output, request.headers.get("accept", "")):
        headers = {**_PAGE_HEADERS, **outage, "Content-Security-Policy": CONTENT_SECURITY_POLICY}
        return templates.TemplateResponse(
            request,
            PAGE_TEMPLATE,
            page_context(overview, STATIC_PATH),
            status_code=code,
            headers=headers,
        )
    headers = {**_PAGE_HEADERS, **outage}
    return JSONResponse(overview.model_dump(mode="json"), status_code=code, headers=headers)


def _act(queue: QueueDep, action: DeadActionName, body: DeadIds | None) -> DeadActionResult:
    try:
        return dead_action(queue, action, None if body is None else body.ids)
    except QueueUnavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers=RETRY_AFTER
        ) from None


@router.post("/dead/requeue")
def requeue_dead(
    queue: QueueDep, body: Annotated[DeadIds | None, Body()] = None
) -> DeadActionResult:
    """Dead letters back to pending with fresh attempts: `{"ids": [...]}`, or all when omitted."""
    return _act(queue, "requeue", body)


@router.post("/dead/purge")
def purge_dead(queue: QueueDep, body: Annotated[DeadIds | None, Body()] = None) -> DeadActionResult:
    """Forget dead letters: `{"ids": [...]}`, or all when omitted."""
    return _act(queue, "purge", body)
