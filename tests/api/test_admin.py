"""The operator view and the dead-letter actions, against real Postgres and Redis.

The page is also rendered by a real headless Chromium (Debian's `chromium`), served by uvicorn
from a seeded database and queue: the figures must be in the rendered DOM, attacker-chosen ids
and errors must stay text, and the screenshot must be a real, non-blank picture.
"""

from __future__ import annotations

import fcntl
import html
import itertools
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from api._http.app import create_app
from core.base.models import DrainRun
from core.base.settings import get_settings
from core.drain.runner import DrainOptions, run
from core.operator.page import STATIC_DIR, static_version
from core.queue import Failure
from core.queue.inspect import job_detail
from functions import financial_summary as job_module
from functions import get_kind
from tests.conftest import CRON_SECRET, IN_CI, UpstashHandle
from tests.support import World

PAGE = "/api/admin"
QUEUE = "/api/admin/queue"
RUNS = "/api/admin/runs"
RETRY_NOW = "/api/admin/retrying/retry-now"
USERS = "/api/admin/users"
REQUEUE = "/api/admin/dead/requeue"
PURGE = "/api/admin/dead/purge"
STATIC = "/api/admin/static"
VERSION = static_version()
AUTH = {"Authorization": f"Bearer {CRON_SECRET}"}
ADMIN_SECRET = "test-admin-secret-fedcba9876543210"

# Ids and errors are chosen by whoever can enqueue or make a job fail: they must stay text.
EVIL_ID = '<script>document.title="pwned-by-id"</script>'
EVIL_ERROR = "<img src=x onerror=\"document.title='pwned-by-error'\"> & more"
WINDOW = (1280, 1600)


@dataclass(frozen=True)
class Seeded:
    users: list[str]
    dead_ids: list[str]
    pending: int = 15
    leased: int = 1
    retrying: int = 1
    runs: int = 3
    drained: int = 15


def seed_queue(world: World, upstash: UpstashHandle) -> Seeded:
    """Dead letters, a retry, a lease, three recorded drain runs and a pending backlog."""
    queue = world.queue
    queue.enqueue(EVIL_ID, "dead-plain")
    claim = queue.claim(2)
    leaked = f"upstream said: token={upstash.token} secret={CRON_SECRET}"
    queue.settle(
        claim,
        failed=[
            Failure(id=EVIL_ID, error=EVIL_ERROR, permanent=True),
            Failure(id="dead-plain", error=leaked, permanent=True),
        ],
    )
    queue.enqueue("retry-me")
    queue.settle(queue.claim(1), failed=[Failure(id="retry-me", error="timeout")])
    queue.enqueue("lease-me")
    queue.claim(1)  # never settled: a batch in flight
    users = world.seed(users=30, per_user=3)
    for trigger in ("cron", "cli", "lambda"):
        run(
            get_kind("financial-summary"),
            trigger=trigger,
            opts=DrainOptions(max_jobs=5, batch_size=5),
            settings=world.settings,
        )
    return Seeded(users=users, dead_ids=[EVIL_ID, "dead-plain"])


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_app())


@pytest.fixture
def seeded(world: World, upstash: UpstashHandle) -> Seeded:
    return seed_queue(world, upstash)


def assert_no_secret(text: str, upstash: UpstashHandle) -> None:
    for secret in (CRON_SECRET, ADMIN_SECRET, upstash.token):
        assert secret not in text


# --- JSON ----------------------------------------------------------------------------------


def test_json_figures_of_a_seeded_queue(
    client: TestClient, seeded: Seeded, upstash: UpstashHandle
) -> None:
    response = client.get(QUEUE, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    queue = body["queue"]
    assert (queue["pending"], queue["leased"], queue["retrying"], queue["dead"]) == (15, 1, 1, 2)
    assert queue["oldest_pending_age_seconds"] >= 0
    assert [d["id"] for d in body["dead_letters"]] == seeded.dead_ids
    assert body["dead_letters"][0]["error"] == f"attempt 1: {EVIL_ERROR}"
    runs = body["runs"]
    assert [r["trigger"] for r in runs] == ["lambda", "cli", "cron"]  # newest first
    assert [(r["claimed"], r["remaining"], r["stop_reason"]) for r in runs] == [
        (5, 15, "max_jobs"),
        (5, 20, "max_jobs"),
        (5, 25, "max_jobs"),
    ]
    assert all(r["jobs_per_second"] > 0 for r in runs)
    assert body["throughput"]["claimed"] == 15
    assert body["throughput"]["runs"] == 3
    assert_no_secret(response.text, upstash)
    assert "[redacted]" in body["dead_letters"][1]["error"]


def test_empty_queue_and_no_runs(client: TestClient) -> None:
    body = client.get(QUEUE, headers=AUTH).json()
    assert body["queue"]["pending"] == 0
    assert body["dead_letters"] == []
    assert body["runs"] == []
    assert body["throughput"]["jobs_per_second"] is None
    page = client.get(QUEUE, params={"format": "html"}, headers=AUTH).text
    assert 'id="chart-empty"' in page
    assert 'id="dead-empty"' in page


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({}, {}),
        ({"Authorization": "Bearer wrong"}, {}),
        ({"Authorization": f"Basic {CRON_SECRET}"}, {}),
        ({}, {"token": "wrong"}),
    ],
)
def test_wrong_or_missing_secret_is_401(
    client: TestClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    protected = (
        ("GET", QUEUE),
        ("POST", REQUEUE),
        ("POST", PURGE),
        ("GET", RUNS),
        ("GET", f"{USERS}/user-1"),
        ("POST", RETRY_NOW),
    )
    for method, path in protected:
        response = client.request(method, path, headers=headers, params=params)
        assert response.status_code == 401, (method, path)
        assert CRON_SECRET not in response.text


def test_query_token_is_accepted(client: TestClient) -> None:
    assert client.get(QUEUE, params={"token": CRON_SECRET}).status_code == 200


def test_admin_secret_replaces_the_cron_secret(world: World, env: pytest.MonkeyPatch) -> None:
    env.setenv("ADMIN_SECRET", ADMIN_SECRET)
    get_settings.cache_clear()
    client = TestClient(create_app())
    assert client.get(QUEUE, headers=AUTH).status_code == 401
    admin = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    assert client.get(QUEUE, headers=admin).status_code == 200


def test_no_secret_configured_disables_the_admin_api(world: World, env: pytest.MonkeyPatch) -> None:
    env.delenv("CRON_SECRET")
    get_settings.cache_clear()
    response = TestClient(create_app()).get(QUEUE, headers=AUTH)
    assert response.status_code == 503
    assert "not configured" in response.json()["detail"]


def test_queue_down_still_shows_the_runs(
    client: TestClient, seeded: Seeded, upstash: UpstashHandle
) -> None:
    upstash.server.set_faults(error_rate=1.0)
    response = client.get(QUEUE, headers=AUTH)
    assert response.status_code == 503
    body = response.json()
    assert body["queue"] is None
    assert body["queue_error"].startswith("queue unreachable (")
    assert len(body["runs"]) == 3
    page = client.get(QUEUE, params={"format": "html"}, headers=AUTH)
    assert page.status_code == 503
    assert 'id="queue-error"' in page.text
    assert_no_secret(response.text + page.text, upstash)
    action = client.post(REQUEUE, headers=AUTH)
    assert action.status_code == 503
    assert "queue unreachable" in action.json()["detail"]
    upstash.server.clear_faults()


def test_pending_and_retrying_ids_are_listed(client: TestClient, seeded: Seeded) -> None:
    body = client.get(QUEUE, headers=AUTH).json()
    pending = body["pending_jobs"]
    assert len(pending) == seeded.pending
    moments = [p["enqueued_at"] for p in pending]
    assert moments == sorted(moments)  # oldest first
    [retrying] = body["retrying_jobs"]
    assert (retrying["id"], retrying["attempts"]) == ("retry-me", 1)
    assert retrying["error"] == "attempt 1: timeout"
    assert retrying["due_at"] > body["generated_at"]


def test_retry_now_moves_a_retrying_id_to_the_front(
    client: TestClient, seeded: Seeded, world: World
) -> None:
    response = client.post(RETRY_NOW, headers=AUTH, json={"ids": ["retry-me", "dead-plain"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["action"], body["count"]) == ("retry-now", 1)  # the dead one is not retrying
    assert (body["queue"]["retrying"], body["queue"]["pending"]) == (0, seeded.pending + 1)
    assert job_detail(world.queue, "retry-me").state == "pending"
    assert world.queue.claim(1).ids == ["retry-me"]


def test_retry_now_needs_ids_and_the_secret(client: TestClient, seeded: Seeded) -> None:
    bodies: list[dict[str, list[str]] | None] = [None, {}, {"ids": []}, {"ids": [""]}]
    for body in bodies:
        response = client.post(RETRY_NOW, headers=AUTH, json=body)
        assert response.status_code == 422, body
    response = client.post(RETRY_NOW, json={"ids": ["retry-me"]})
    assert response.status_code == 401
    assert response.json() == {"detail": "missing or wrong secret"}


def add_runs(world: World, count: int, gap_after: int | None = None) -> list[str]:
    """`count` recorded runs a minute apart (and a day's gap after run `gap_after`, if given);
    returns their ids newest first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def at(i: int) -> datetime:
        gap = timedelta(days=1) if gap_after is not None and i > gap_after else timedelta(0)
        return start + timedelta(minutes=i) + gap

    runs = [
        DrainRun(
            id=f"run-{i:04d}",
            kind="financial-summary",
            trigger="cron",
            started_at=at(i),
            claimed=i % 7,
            remaining=i,
            stop_reason="empty",
        )
        for i in range(count)
    ]
    with Session(world.engine) as session:
        session.add_all(runs)
        session.commit()
    return [f"run-{i:04d}" for i in reversed(range(count))]


def test_runs_are_paged_beyond_the_first_fifty(client: TestClient, world: World) -> None:
    expected = add_runs(world, 120)
    overview = client.get(QUEUE, headers=AUTH).json()
    assert [r["id"] for r in overview["runs"]] == expected[:50]
    seen, before = [r["id"] for r in overview["runs"]], overview["older_runs"]
    while before is not None:
        page = client.get(RUNS, headers=AUTH, params={"before": before})
        assert page.status_code == 200, page.text
        seen += [r["id"] for r in page.json()["runs"]]
        before = page.json()["older_runs"]
    assert seen == expected
    assert client.get(RUNS, headers=AUTH, params={"limit": 500}).json()["older_runs"] is None


def test_runs_from_an_unknown_run_are_a_json_404(client: TestClient) -> None:
    response = client.get(RUNS, headers=AUTH, params={"before": "no-such-run"})
    assert response.status_code == 404
    assert response.json() == {"detail": "no drain run 'no-such-run'"}
    assert client.get(RUNS).status_code == 401


def test_user_detail_shows_jobs_summary_and_queue_state(
    client: TestClient, seeded: Seeded, world: World
) -> None:
    drained = client.get(RUNS, headers=AUTH).json()["runs"]
    assert drained
    user = seeded.users[0]  # drained by the first run
    response = client.get(f"{USERS}/{user}", headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["exists"] is True
    assert body["data_version"] == body["summary_version"] > 0
    assert body["stale"] is False
    assert [s["currency"] for s in body["summaries"]]
    assert [j["status"] for j in body["jobs"]] == ["succeeded"]
    assert body["queue"]["state"] == "idle"
    retrying = client.get(f"{USERS}/retry-me", headers=AUTH).json()
    assert (retrying["exists"], retrying["queue"]["state"]) == (False, "retrying")
    assert retrying["queue"]["error"] == "attempt 1: timeout"
    # An id with a slash (and markup) in it, as the page sends it: encoded.
    hostile = client.get(f"{USERS}/{quote(EVIL_ID, safe='')}", headers=AUTH).json()
    assert (hostile["id"], hostile["queue"]["state"]) == (EVIL_ID, "dead")


def test_user_detail_with_the_queue_down_is_a_503_with_what_was_read(
    client: TestClient, seeded: Seeded, upstash: UpstashHandle
) -> None:
    upstash.server.set_faults(error_rate=1.0)
    try:
        response = client.get(f"{USERS}/{seeded.users[0]}", headers=AUTH)
    finally:
        upstash.server.clear_faults()
    assert response.status_code == 503
    assert response.headers["retry-after"]
    body = response.json()
    assert body["queue_error"].startswith("queue unreachable (")
    assert body["exists"] is True
    assert body["data_version"] > 0
    assert_no_secret(response.text, upstash)


def test_an_unknown_user_is_a_json_404(client: TestClient) -> None:
    response = client.get(f"{USERS}/nobody-at-all", headers=AUTH)
    assert response.status_code == 404
    assert "nobody-at-all" in response.json()["detail"]
    assert client.get(f"{USERS}/nobody-at-all").status_code == 401


# --- HTML (without a browser) --------------------------------------------------------------


def test_html_by_accept_header_and_by_format(client: TestClient, seeded: Seeded) -> None:
    by_accept = client.get(QUEUE, headers={**AUTH, "Accept": "text/html,application/xhtml+xml"})
    assert by_accept.headers["content-type"].startswith("text/html")
    by_param = client.get(QUEUE, params={"format": "html"}, headers=AUTH)
    assert by_param.headers["content-type"].startswith("text/html")
    as_json = client.get(QUEUE, params={"format": "json"}, headers={**AUTH, "Accept": "text/html"})
    assert as_json.headers["content-type"] == "application/json"


SCRIPT_TAG = re.compile(r"<script(?![^>]*type=\"application/json\")[^>]*>")


def test_html_escapes_ids_and_errors_and_keeps_secrets_out(
    client: TestClient, seeded: Seeded, upstash: UpstashHandle
) -> None:
    response = client.get(QUEUE, params={"format": "html", "token": CRON_SECRET})
    page = response.text
    # One executable script, the page's own file; the figures' JSON block is never run.
    assert SCRIPT_TAG.findall(page) == [f'<script src="{STATIC}/operator.js?v={VERSION}">']
    assert page.count('<script type="application/json" id="overview-data">') == 1
    assert "<img" not in page
    # The rows are drawn by the script from the JSON block; tojson escaped <, > and & there,
    # so the hostile id and error appear nowhere as markup, and read back intact.
    assert EVIL_ID not in page
    assert "<img" not in page
    figures = json.loads(page.split('id="overview-data">', 1)[1].split("</script>", 1)[0])
    assert [d["id"] for d in figures["dead_letters"]] == seeded.dead_ids
    assert figures["dead_letters"][0]["error"] == f"attempt 1: {EVIL_ERROR}"
    assert_no_secret(page, upstash)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "connect-src 'self'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    # Self-contained: nothing is fetched from anywhere else, and no inline style or handler.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<style" not in page
    assert not re.search(r"<[a-z][^>]*\sstyle=", page)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+=", page)


def test_the_page_is_rendered_from_its_template(client: TestClient, seeded: Seeded) -> None:
    page = client.get(QUEUE, params={"format": "html"}, headers=AUTH).text
    assert f'<link rel="stylesheet" href="{STATIC}/operator.css?v={VERSION}">' in page
    for blueprint in ("retrying-row", "pending-row", "dead-row", "run-row", "job-row"):
        assert f'<template id="{blueprint}">' in page


def test_the_page_itself_needs_no_secret_and_holds_no_figure(
    client: TestClient, seeded: Seeded, upstash: UpstashHandle
) -> None:
    """It asks for the secret; every figure comes from the protected JSON routes."""
    response = client.get(PAGE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    page = response.text
    assert 'id="secret-form"' in page
    assert 'id="overview-data"' not in page
    for private in ("retry-me", "dead-plain", *seeded.users[:3]):
        assert private not in page
    assert_no_secret(page, upstash)


@pytest.mark.parametrize(
    ("name", "media"), [("operator.js", "text/javascript"), ("operator.css", "text/css")]
)
def test_the_static_files_are_served_without_the_secret(
    client: TestClient, name: str, media: str
) -> None:
    response = client.get(f"{STATIC}/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content == (STATIC_DIR / name).read_bytes()


def test_a_missing_static_file_is_a_json_404(client: TestClient) -> None:
    for path in ("nope.js", "../page.py", "%2e%2e/page.py"):
        response = client.get(f"{STATIC}/{path}")
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not Found"}


# --- dead-letter actions -------------------------------------------------------------------


def test_requeue_one_then_purge_the_rest(client: TestClient, seeded: Seeded, world: World) -> None:
    response = client.post(REQUEUE, headers=AUTH, json={"ids": [EVIL_ID]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["action"], body["ids"], body["count"]) == ("requeue", [EVIL_ID], 1)
    assert (body["queue"]["dead"], body["queue"]["pending"]) == (1, seeded.pending + 1)
    assert [d.id for d in world.queue.dead_letters()] == ["dead-plain"]

    purged = client.post(PURGE, headers=AUTH).json()  # no body: all of them
    assert (purged["ids"], purged["count"]) == ("all", 1)
    assert world.queue.stats().dead == 0
    assert world.queue.dead_letters() == []


def test_requeue_all_and_ids_that_are_not_dead(
    client: TestClient, seeded: Seeded, world: World
) -> None:
    assert client.post(REQUEUE, headers=AUTH, json={"ids": ["no-such-id"]}).json()["count"] == 0
    # An empty selection acts on nothing (never "all" by accident).
    assert client.post(PURGE, headers=AUTH, json={"ids": []}).json()["count"] == 0
    assert world.queue.stats().dead == 2
    body = client.post(REQUEUE, headers=AUTH, json={}).json()
    assert (body["ids"], body["count"]) == ("all", 2)
    stats = world.queue.stats()
    assert (stats.dead, stats.pending) == (0, seeded.pending + 2)


def test_bad_action_bodies_are_422(client: TestClient) -> None:
    assert client.post(REQUEUE, headers=AUTH, json={"ids": "not-a-list"}).status_code == 422
    assert client.post(PURGE, headers=AUTH, json={"ids": [""]}).status_code == 422


# --- the page in a real browser ------------------------------------------------------------


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found is None:
        message = "chromium is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app on a free loopback port, in a thread, for as long as the block runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # No access log: the page is opened with ?token=, which must not reach any log.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def browse(binary: str, url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *extra,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def png_facts(data: bytes) -> dict[str, Any]:
    """Size from IHDR, and how varied the decompressed pixel rows are (a blank page is not)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert data[12:16] == b"IHDR"
    idat, offset = b"", 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    pixels = zlib.decompress(idat)
    return {"width": width, "height": height, "distinct_bytes": len(set(pixels))}


def figure(dom: str, key: str) -> str:
    match = re.search(rf'id="{re.escape(key)}"[^>]*>([^<]*)<', dom)
    assert match is not None, key
    return match.group(1)


def drawn(dom: str, blueprint: str) -> int:
    """Rows the script drew from a blueprint (the <template>'s own row is serialised too)."""
    return dom.count(f'<tr class="{blueprint}">') - 1


def test_page_renders_in_chromium(
    world: World, upstash: UpstashHandle, tmp_path: Path, seeded: Seeded
) -> None:
    binary = chromium()
    with serve(create_app()) as base:
        url = f"{base}{QUEUE}?format=html&token={CRON_SECRET}"
        shot = tmp_path / "admin.png"
        browse(binary, url, tmp_path / "profile-shot", f"--screenshot={shot}")
        dom = browse(binary, url, tmp_path / "profile-dom", "--dump-dom").stdout
    assert figure(dom, "pending") == str(seeded.pending)
    assert figure(dom, "leased") == str(seeded.leased)
    assert figure(dom, "retrying") == str(seeded.retrying)
    assert figure(dom, "dead") == str(len(seeded.dead_ids))
    assert figure(dom, "run-count") == str(seeded.runs)
    assert figure(dom, "drained") == str(seeded.drained)
    assert re.fullmatch(r"\d+s|\d+m \d\ds", figure(dom, "oldest-pending"))
    assert drawn(dom, "run-row") == seeded.runs
    assert drawn(dom, "dead-row") == len(seeded.dead_ids)
    assert drawn(dom, "retrying-row") == seeded.retrying
    assert drawn(dom, "pending-row") == seeded.pending
    assert dom.count('class="bar"') == seeded.runs
    # The hostile id and error stayed text: the title is untouched and no element was injected.
    assert "<title>Tally queue: financial-summary</title>" in dom
    assert "pwned" not in dom.split("</title>")[0]
    assert len(SCRIPT_TAG.findall(dom)) == 1
    assert "<img" not in dom
    assert html.escape(EVIL_ID, quote=False) in dom
    assert_no_secret(dom, upstash)

    data = shot.read_bytes()
    facts = png_facts(data)
    assert (facts["width"], facts["height"]) == WINDOW
    assert len(data) > 40_000, len(data)
    assert facts["distinct_bytes"] > 64, facts


def _high(fd: int) -> int:
    """The same pipe end at a number above 4, so wiring 3 and 4 never overwrites it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class DevTools:
    """Chromium driven over --remote-debugging-pipe (DevTools protocol on fds 3 and 4)."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, self._to_browser = (_high(fd) for fd in os.pipe())
        self._from_browser, from_browser_w = (_high(fd) for fd in os.pipe())
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # The protocol's descriptors are fixed (3 in, 4 out); the shell wires them, since a
        # preexec_fn is unsafe while the uvicorn thread runs (bash: dash takes one-digit fds only).
        wiring = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", wiring, binary, *flags],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.session = ""

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_browser, 65536)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply: dict[str, Any] = json.loads(raw)
            if reply.get("id") == self._next_id:
                return reply

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["result"]["sessionId"]
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", {"expression": expression})["result"]["result"].get(
            "value"
        )

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=15)
        os.close(self._to_browser)
        os.close(self._from_browser)


def wait_for(check: Any, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


DEAD_ROWS = (
    "document.readyState === 'complete' ? document.querySelectorAll('tr.dead-row').length : -1"
)


def test_page_buttons_act_on_the_queue(
    world: World, upstash: UpstashHandle, tmp_path: Path, seeded: Seeded
) -> None:
    """Click Requeue on one row, then Purge all, as an operator would (confirm() accepted)."""
    binary = chromium()
    with serve(create_app()) as base:
        browser = DevTools(binary, tmp_path / "profile-clicks")
        try:
            browser.open(f"{base}{QUEUE}?format=html&token={CRON_SECRET}")
            wait_for(lambda: browser.evaluate(DEAD_ROWS) == 2, "the page")
            browser.evaluate(
                "window.confirm = () => true; document.querySelector("
                "'tr.dead-row button[data-action=\"dead/requeue\"]').click()"
            )
            wait_for(lambda: world.queue.stats().dead == 1, "the requeue")
            wait_for(lambda: browser.evaluate(DEAD_ROWS) == 1, "the reloaded page")
            assert [d.id for d in world.queue.dead_letters()] == ["dead-plain"]
            assert world.queue.stats().pending == seeded.pending + 1
            browser.evaluate(
                "window.confirm = () => true; document.querySelector("
                "'button[data-action=\"dead/purge\"]:not([data-id])').click()"
            )
            wait_for(lambda: world.queue.stats().dead == 0, "the purge")
            wait_for(lambda: browser.evaluate(DEAD_ROWS) == 0, "the reloaded page")
        finally:
            browser.close()


RETRYING_ROWS = "document.querySelectorAll('#retrying-jobs tbody tr.retrying-row').length"


def submit(browser: DevTools, form: str, field: str, value: str) -> None:
    browser.evaluate(
        f"document.getElementById({json.dumps(field)}).value = {json.dumps(value)};"
        f"document.getElementById({json.dumps(form)}).requestSubmit()"
    )


def test_live_page_shows_a_failing_job_then_retries_it_now(
    world: World, upstash: UpstashHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened with no secret in the URL, asked once; a job that fails after the page loaded
    shows up with its error by itself (no reload), and Retry now takes it out of retrying."""
    binary = chromium()
    kind = get_kind("financial-summary")
    [failing, other] = world.seed(users=2, per_user=3)
    run(kind, trigger="cron", opts=DrainOptions(max_jobs=10), settings=world.settings)
    with serve(create_app()) as base:
        browser = DevTools(binary, tmp_path / "profile-live")
        try:
            browser.open(f"{base}{PAGE}")
            asking = (
                "document.readyState === 'complete' && "
                "!document.getElementById('secret-form').hidden"
            )
            wait_for(lambda: browser.evaluate(asking), "the page asking for the secret")
            browser.evaluate("window.samePage = 'yes'")
            submit(browser, "secret-form", "secret-input", CRON_SECRET)
            wait_for(
                lambda: browser.evaluate("document.getElementById('run-count').textContent") == "1",
                "the figures",
            )

            def explode(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("ledger exploded")

            monkeypatch.setattr(job_module, "summaries_from_rows", explode)
            world.queue.enqueue(failing)
            run(kind, trigger="cron", opts=DrainOptions(max_jobs=1), settings=world.settings)
            assert job_detail(world.queue, failing).state == "retrying"
            wait_for(lambda: browser.evaluate(RETRYING_ROWS) == 1, "the live refresh")
            shown = browser.evaluate("document.querySelector('tr.retrying-row').textContent")
            assert failing in shown
            assert "RuntimeError: ledger exploded" in shown
            assert browser.evaluate("window.samePage") == "yes"  # fetched, not reloaded
            assert "token" not in browser.evaluate("window.location.href")
            assert CRON_SECRET not in browser.evaluate("document.documentElement.outerHTML")

            browser.evaluate(
                "window.confirm = () => true; document.querySelector("
                "'tr.retrying-row button[data-action=\"retrying/retry-now\"]').click()"
            )
            wait_for(lambda: job_detail(world.queue, failing).state == "pending", "retry-now")
            wait_for(lambda: browser.evaluate(RETRYING_ROWS) == 0, "the page after retry-now")
            assert browser.evaluate("window.samePage") == "yes"

            # The user's detail: the failed attempt from background_jobs, and where it stands.
            submit(browser, "search-form", "search-input", failing)
            jobs = "document.querySelectorAll('#detail-jobs tbody tr.job-row').length"
            wait_for(lambda: browser.evaluate(jobs) == 2, "the user's jobs")
            detail = browser.evaluate("document.getElementById('user-detail').textContent")
            assert "ledger exploded" in detail
            assert browser.evaluate("document.getElementById('detail-state').textContent") == (
                "pending"
            )
            # The search filters the lists too: the other user, pending as well, is not shown.
            world.queue.enqueue(other)
            pending_card = "document.getElementById('pending').textContent"
            wait_for(lambda: browser.evaluate(pending_card) == "2", "the next refresh")
            pending = browser.evaluate("document.getElementById('pending-jobs').textContent")
            assert failing in pending
            assert other not in pending
        finally:
            browser.close()


BARS = "document.querySelectorAll('#runs-chart rect.bar').length"


def test_page_pages_older_runs_onto_a_time_axis(
    world: World, upstash: UpstashHandle, tmp_path: Path
) -> None:
    """An old ?token= link still opens the page, which keeps the secret and drops it from the
    URL; Older runs loads the 51st run on; a day without runs is a gap on the chart."""
    binary = chromium()
    add_runs(world, 60, gap_after=4)
    with serve(create_app()) as base:
        browser = DevTools(binary, tmp_path / "profile-runs")
        try:
            browser.open(f"{base}{QUEUE}?format=html&token={CRON_SECRET}")
            wait_for(lambda: browser.evaluate(BARS) == 50, "the first 50 runs")
            assert browser.evaluate("window.location.search") == "?format=html"
            assert browser.evaluate("document.getElementById('secret-form').hidden") is True
            browser.evaluate("document.getElementById('older-runs').click()")
            wait_for(lambda: browser.evaluate(BARS) == 60, "the older runs")
            rows = "document.querySelectorAll('#runs-table tbody tr.run-row').length"
            assert browser.evaluate(rows) == 60
            assert browser.evaluate("document.getElementById('older-runs').hidden") is True
            xs = json.loads(
                browser.evaluate(
                    "JSON.stringify(Array.from(document.querySelectorAll('#runs-chart rect.bar'))"
                    ".map(b => Number(b.getAttribute('x'))))"
                )
            )
        finally:
            browser.close()
    steps = [b - a for a, b in itertools.pairwise(xs)]  # oldest first
    assert all(step >= 0 for step in steps)
    gap, usual = steps[4], max(steps[:4] + steps[5:])
    assert gap > 100 * usual, (gap, usual)
