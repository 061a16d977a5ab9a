"""The operator page: a Jinja2 template and a static stylesheet and script, beside this module.

`api/_http/routes/admin.py` renders `templates/operator.html` with Starlette's Jinja2Templates
(autoescape on: user ids and error texts are chosen by whoever can enqueue or make a job fail)
and serves `static/` under the admin path. This module holds what the template needs that is not
markup: the display filters, the context, the Content-Security-Policy and a version tag that
changes whenever a static file does, so a browser never runs a stale script against a new page.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from core.operator.overview import RECENT_RUNS, AdminOverview

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
PAGE_TEMPLATE = "operator.html"
# What a figure shows when there is nothing to show (an en dash, written out for the linter).
BLANK = "\u2013"

# Only the page's own script and stylesheet, fetched from this origin; the script may talk only
# to this origin; nothing frames the page. No inline script or style, so no nonce either.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return BLANK
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24}h"


def when(moment: datetime | None) -> str:
    return BLANK if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: float | None) -> str:
    if value is None:
        return BLANK
    return str(value) if isinstance(value, int) else f"{value:g}"


FILTERS = {"duration": duration, "when": when, "number": number}


@cache
def static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def page_context(overview: AdminOverview, static_url: str) -> dict[str, Any]:
    """What `operator.html` renders: the figures, and the same figures as JSON for the script."""
    return {
        "overview": overview,
        "data": overview.model_dump(mode="json"),
        "recent_runs": RECENT_RUNS,
        "static_url": static_url,
        "version": static_version(),
    }
