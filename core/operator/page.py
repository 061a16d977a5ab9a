"""The operator page: a Jinja2 template and a static stylesheet and script, beside this module.

`api/_http/routes/admin.py` renders `templates/operator.html` with Starlette's Jinja2Templates
(autoescape on: user ids and error texts are chosen by whoever can enqueue or make a job fail)
and serves `static/` under the admin path. The template is the layout, with a `<template>`
blueprint per row; `static/operator.js` fills them from the JSON (`textContent` only) on load
and at every refresh. This module holds what the template needs that is not markup: the
context, the Content-Security-Policy and a version tag that changes whenever a static file does,
so a browser never runs a stale script against a new page.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from core.operator.overview import RECENT_RUNS, AdminOverview

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
PAGE_TEMPLATE = "operator.html"
# How often the page fetches fresh figures (the JSON, never a reload of the page).
REFRESH_SECONDS = 5

# Only the page's own script and stylesheet, fetched from this origin; the script may talk only
# to this origin; nothing frames the page. No inline script or style, so no nonce either.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def page_context(
    overview: AdminOverview | None, kind: str, api_url: str, static_url: str
) -> dict[str, Any]:
    """What `operator.html` renders: the layout, and the figures (when the request was
    authorised) as a JSON block the script draws the first view from. No overview: the page
    asks for the secret and fetches the figures itself."""
    return {
        "kind": kind,
        "data": None if overview is None else overview.model_dump(mode="json"),
        "recent_runs": RECENT_RUNS,
        "refresh_seconds": REFRESH_SECONDS,
        "api_url": api_url,
        "static_url": static_url,
        "version": static_version(),
    }
