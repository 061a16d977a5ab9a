"""`/docs`: Swagger UI from files installed with the app, so it works with no network.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN, which leaves them blank offline.
Here the bundle comes from the `fastapi-offline` package's static folder (Swagger UI, Apache-2.0;
only its files are used, located without importing it), the initialiser is our own file, and
the page carries a Content-Security-Policy as strict as the operator page's: scripts, styles
and fetches from the app's own origin only. ReDoc is not served.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
INIT_PATH = f"{DOCS_PATH}/init.js"
_INIT_FILE = Path(__file__).resolve().parent / "static" / "docs.js"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "no-referrer"}


def assets_dir() -> Path:
    """The installed Swagger UI files (swagger-ui-bundle.js, swagger-ui.css, favicon.png)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed: /docs has no Swagger UI files")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def page(title: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API docs</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{INIT_PATH}"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve /docs, its assets and its initialiser (the app is made with docs_url=None)."""
    html = page(app.title)
    init = _INIT_FILE.read_bytes()

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(html, headers=_HEADERS)

    @app.get(INIT_PATH, include_in_schema=False)
    def docs_init() -> Response:
        return Response(init, media_type="text/javascript", headers=_HEADERS)

    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
