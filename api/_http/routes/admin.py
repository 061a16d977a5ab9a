"""The operator page, its figures and the queue actions, behind the admin secret.

Every route that reads or changes data needs the secret (`require_admin_secret`: constant-time
compare, JSON errors). The page itself (`GET /api/admin`) and its static files are public
markup: they hold no figure and no secret, and the page asks the operator for the secret once.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, StringConstraints

from api._http.deps import QueueDep, SettingsDep, require_admin_secret
from api._http.errors import RETRY_AFTER
from core.base.db import get_engine
from core.operator.overview import (
    RECENT_RUNS,
    ActionResult,
    AdminOverview,
    DeadActionName,
    QueueUnavailable,
    RunsPage,
    UnknownRun,
    dead_action,
    gather,
    recent_runs,
    retry_now,
    secret_values,
)
from core.operator.page import CONTENT_SECURITY_POLICY, PAGE_TEMPLATE, TEMPLATES_DIR, page_context
from core.operator.users import UnknownUser, UserDetail, user_detail
from core.writes.ledger import SUMMARY_KIND

PREFIX = "/api/admin"
# The page's stylesheet and script: public like any page asset (no data, no secret in them);
# `api/_http/app.py` mounts core/operator/static here.
STATIC_PATH = f"{PREFIX}/static"

router = APIRouter(prefix=PREFIX, tags=["admin"], dependencies=[Depends(require_admin_secret)])
page_router = APIRouter(prefix=PREFIX, tags=["admin"])

# Autoescape on (Starlette's default, said again here): ids and errors must stay text.
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.autoescape = True

# Keep the page and the figures out of caches and out of Referer headers.
_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

UserId = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class DeadIds(BaseModel):
    """Which dead letters to act on: `ids` omitted (or no body at all) means all of them."""

    ids: list[UserId] | None = Field(default=None, max_length=10_000)


class RetryIds(BaseModel):
    """Which retrying ids to run at once: always named (there is no "all")."""

    ids: list[UserId] = Field(min_length=1, max_length=10_000)


def _wants_html(output: str | None, accept: str) -> bool:
    if output is not None:
        return output == "html"
    # A browser asks for text/html first; curl and scripts send */* or application/json.
    return accept.split(",", 1)[0].strip().lower().startswith("text/html")


def _page(
    request: Request,
    overview: AdminOverview | None,
    code: int,
    kind: str,
    extra: dict[str, str] | None = None,
) -> Response:
    headers = {**_PAGE_HEADERS, **(extra or {}), "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    return templates.TemplateResponse(
        request,
        PAGE_TEMPLATE,
        page_context(overview, kind, PREFIX, STATIC_PATH),
        status_code=code,
        headers=headers,
    )


@page_router.get("", response_class=Response, responses={200: {"content": {"text/html": {}}}})
def operator_page(request: Request) -> Response:
    """The operator page: asks for the admin secret once, then shows the live figures."""
    return _page(request, None, status.HTTP_200_OK, SUMMARY_KIND)


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
    """Queue depth, oldest pending age, leases, pending, retrying and dead ids, recent runs."""
    overview = gather(queue, get_engine(), SUMMARY_KIND, settings)
    code = status.HTTP_200_OK if overview.healthy else status.HTTP_503_SERVICE_UNAVAILABLE
    outage = {} if overview.healthy else RETRY_AFTER
    if _wants_html(output, request.headers.get("accept", "")):
        return _page(request, overview, code, SUMMARY_KIND, outage)
    headers = {**_PAGE_HEADERS, **outage}
    return JSONResponse(overview.model_dump(mode="json"), status_code=code, headers=headers)


@router.get("/runs", responses={404: {"description": "no such run to page from"}})
def get_runs(
    settings: SettingsDep,
    before: Annotated[str | None, Query(max_length=36, description="a run id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = RECENT_RUNS,
) -> RunsPage:
    """Drain runs newest first; `before` is the `older_runs` of the previous page."""
    try:
        return recent_runs(get_engine(), SUMMARY_KIND, secret_values(settings), before, limit)
    except UnknownRun as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


# `:path`: an id may hold a slash, which the page sends encoded and the router sees decoded.
@router.get(
    "/users/{user_id:path}",
    response_model=UserDetail,
    responses={
        404: {"description": "an id nothing knows"},
        503: {"description": "the queue or the database is unreachable (what was read is shown)"},
    },
)
def get_user(
    queue: QueueDep, settings: SettingsDep, user_id: Annotated[UserId, Path()]
) -> Response:
    """One user: queue state, recent jobs (`background_jobs`), summary state, data version."""
    try:
        detail = user_detail(queue, get_engine(), SUMMARY_KIND, user_id, settings)
    except UnknownUser as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    down = detail.database_error is not None or detail.queue_error is not None
    return JSONResponse(
        detail.model_dump(mode="json"),
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE if down else status.HTTP_200_OK,
        headers={**_PAGE_HEADERS, **(RETRY_AFTER if down else {})},
    )


def _act(queue: QueueDep, action: DeadActionName, body: DeadIds | None) -> ActionResult:
    try:
        return dead_action(queue, action, None if body is None else body.ids)
    except QueueUnavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers=RETRY_AFTER
        ) from None


@router.post("/dead/requeue")
def requeue_dead(queue: QueueDep, body: Annotated[DeadIds | None, Body()] = None) -> ActionResult:
    """Dead letters back to pending with fresh attempts: `{"ids": [...]}`, or all when omitted."""
    return _act(queue, "requeue", body)


@router.post("/dead/purge")
def purge_dead(queue: QueueDep, body: Annotated[DeadIds | None, Body()] = None) -> ActionResult:
    """Forget dead letters: `{"ids": [...]}`, or all when omitted."""
    return _act(queue, "purge", body)


@router.post("/retrying/retry-now")
def retry_retrying_now(queue: QueueDep, body: RetryIds) -> ActionResult:
    """Retrying ids due at once, at the front of the queue: `{"ids": [...]}` (`count` moved)."""
    try:
        return retry_now(queue, body.ids)
    except QueueUnavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers=RETRY_AFTER
        ) from None
