"""AWS Lambda entry point (`api._lambda.handler`): one function for HTTP and schedules.

- HTTP events (API Gateway HTTP API v2, a function URL, REST API, ALB) go through Mangum to the
  same FastAPI app Vercel serves.
- An EventBridge scheduled event (`source` "aws.events") runs a drain directly, with a budget
  taken from the invocation's remaining time, and returns the run's figures.

Both paths import what they need on first use: a scheduled invocation never loads FastAPI, and an
HTTP one pays for the app only once per warm instance.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mangum import Mangum
    from mangum.types import ASGI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tally.lambda")

# Kept back from the invocation's remaining time. The drain's own deadline starts after the
# reconcile sweep and the reap, and after the deadline it still settles the last batch, counts
# what is left and writes the run record: each is one bounded Upstash or database round trip.
LAMBDA_SAFETY_MARGIN_SECONDS = 5.0
SCHEDULE_SOURCE = "aws.events"
KIND = "financial-summary"


class LambdaContext(Protocol):
    """The parts of the Lambda context object this handler uses."""

    function_name: str
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


def is_scheduled(event: dict[str, Any]) -> bool:
    return event.get("source") == SCHEDULE_SOURCE


def schedule_budget_seconds(remaining_ms: int) -> float:
    """The drain budget: the time Lambda still gives us, less the safety margin.

    Deliberately not capped by DRAIN_MAX_BUDGET_SECONDS: that cap exists for cron-job.org's
    30 s request timeout, while a Lambda function may run up to 15 minutes; its configured
    timeout is the only limit here.
    """
    return max(0.0, remaining_ms / 1000 - LAMBDA_SAFETY_MARGIN_SECONDS)


def run_scheduled(context: LambdaContext) -> dict[str, Any]:
    from core.base.logs import install_redaction
    from core.base.settings import get_settings
    from core.drain.runner import DrainOptions, StopReason, run
    from core.operator.overview import secret_values
    from functions import get_kind

    settings = get_settings()
    install_redaction(secret_values(settings))
    budget = schedule_budget_seconds(context.get_remaining_time_in_millis())
    stats = run(
        get_kind(KIND),
        trigger="lambda",
        opts=DrainOptions(budget_seconds=budget, batch_size=settings.drain_batch_size),
        settings=settings,
    )
    level = logging.ERROR if stats.stop_reason is StopReason.ERROR else logging.INFO
    log.log(
        level,
        "scheduled drain function=%s request=%s budget=%.1fs claimed=%d stop=%s",
        context.function_name,
        context.aws_request_id,
        budget,
        stats.claimed,
        stats.stop_reason,
    )
    return stats.model_dump(mode="json")


BODY_PIECE_BYTES = 64 * 1024


def in_pieces(app: ASGIApp) -> ASGI:
    """Hand the request body on in 64 KiB pieces, as a server reading a socket does.

    Mangum delivers the whole body as one message; Starlette's form parser would then copy an
    uploaded statement out of it whole and write it in one go into its spooled file, holding
    the upload twice in memory. In pieces, it streams the file to disk past 1 MB.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        pending: list[Message] = []

        async def piecewise() -> Message:
            if not pending:
                message = await receive()
                body = message.get("body", b"")
                if message["type"] != "http.request" or len(body) <= BODY_PIECE_BYTES:
                    return message
                more = bool(message.get("more_body", False))
                cuts = range(0, len(body), BODY_PIECE_BYTES)
                pending.extend(
                    {
                        "type": "http.request",
                        "body": body[i : i + BODY_PIECE_BYTES],
                        "more_body": more or i + BODY_PIECE_BYTES < len(body),
                    }
                    for i in cuts
                )
            return pending.pop(0)

        await app(scope, piecewise, send)

    return wrapped


@cache
def _http_adapter() -> Mangum:
    from mangum import Mangum

    from api.index import app

    # No lifespan: the app has no startup work, and skipping it saves a round of the loop.
    return Mangum(in_pieces(app), lifespan="off")


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_scheduled(event):
        return run_scheduled(context)
    # Mangum only hands the context on to the ASGI scope; it needs none of its other fields.
    response: dict[str, Any] = _http_adapter()(event, context)  # type: ignore[arg-type]
    return response
