"""`/docs` works with no network: every asset it references is served by the app itself.

Swagger UI comes from an installed package (`fastapi-offline`'s static files), not a CDN; the
page carries a Content-Security-Policy as strict as the operator page's (scripts, styles and
fetches from the app's own origin only), so a stray external reference would not load anyway.
A real headless Chromium renders it, to show the bundle and our initialiser run under that policy.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from api._http.app import create_app
from tests.api.test_admin import browse, chromium, serve

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def test_docs_reference_only_the_app_s_own_assets(app_env: dict[str, str]) -> None:
    client = TestClient(create_app())
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = ASSET.findall(page.text)
    assert any(a.endswith(".js") for a in assets), page.text
    assert any(a.endswith(".css") for a in assets), page.text
    for asset in assets:
        assert asset.startswith("/"), f"{asset}: not the app's own"
        assert not asset.startswith("//"), asset
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 0, asset
    assert "<script>" not in page.text  # no inline script: the policy allows none
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "http" not in policy
    assert "cdn" not in page.text.lower()


def test_redoc_is_not_a_cdn_page(app_env: dict[str, str]) -> None:
    """FastAPI's default /redoc loads from a CDN too: it is not served (Swagger UI is /docs)."""
    assert TestClient(create_app()).get("/redoc").status_code == 404


def test_docs_render_in_a_browser_with_no_network(app_env: dict[str, str], tmp_path: Path) -> None:
    binary = chromium()
    with serve(create_app()) as url:
        dom = browse(
            binary,
            f"{url}/docs",
            tmp_path / "profile",
            # Everything but the app's own origin is unreachable, as offline.
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ).stdout
    assert "swagger-ui" in dom
    assert "/api/health" in dom, dom[:2000]  # the operations were fetched and rendered
    assert 'class="opblock' in dom
