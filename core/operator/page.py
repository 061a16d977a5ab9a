"""The operator view: queue figures, dead letters and recent drain runs, as data or as a page.

Framework-free: `api/_http/routes/admin.py` only parses the request and picks JSON or HTML.
The page is one self-contained document (inline CSS, one inline script, an inline SVG chart) so
it works on a function with no static files and from a browser with no network beyond the
function itself.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from core.base.db import normalise_url
from core.base.models import DrainRun, utcnow
from core.base.settings import Settings
from core.queue import DeadLetter, JobQueue, QueueStats

log = logging.getLogger("tally.admin")

RECENT_RUNS = 50
DEAD_LETTERS_SHOWN = 200
REDACTED = "[redacted]"
# What a figure shows when there is nothing to show (an en dash, written out for the linter).
BLANK = "\u2013"

DeadActionName = Literal["requeue", "purge"]


class RunRow(BaseModel):
    """One drain run as the operator sees it: what it did, how fast, and why it stopped."""

    id: str
    started_at: datetime
    trigger: str
    claimed: int
    succeeded: int
    failed: int
    dead: int
    remaining: int | None
    elapsed_seconds: float
    jobs_per_second: float | None
    stop_reason: str
    error: str | None


class Throughput(BaseModel):
    """Totals over the recent runs."""

    runs: int = 0
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    dead: int = 0
    elapsed_seconds: float = 0.0
    jobs_per_second: float | None = None
    last_run_at: datetime | None = None
    last_stop_reason: str | None = None


class AdminOverview(BaseModel):
    kind: str
    generated_at: datetime
    queue: QueueStats | None
    queue_error: str | None = None
    dead_letters: list[DeadLetter]
    runs: list[RunRow]  # newest first
    runs_error: str | None = None
    throughput: Throughput

    @property
    def healthy(self) -> bool:
        return self.queue_error is None and self.runs_error is None


class DeadActionResult(BaseModel):
    action: DeadActionName
    # "all" when no id was named; otherwise the ids asked for.
    ids: list[str] | Literal["all"]
    count: int
    queue: QueueStats | None = None


class QueueUnavailable(RuntimeError):
    """The queue is not configured or did not answer; the message names no secret."""


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, so any text shown to an operator can be scrubbed of them."""
    candidates = [
        settings.cron_secret,
        settings.admin_secret,
        settings.auth_jwt_secret,
        settings.notify_webhook_secret,
        settings.upstash_redis_rest_token,
    ]
    values = [s.get_secret_value() for s in candidates if s is not None]
    password = make_url(normalise_url(settings.database_url)).password
    if password:
        values.append(str(password))
    # Longest first, so a secret that contains another is replaced whole.
    return sorted({v for v in values if v}, key=len, reverse=True)


def redact(text: str | None, secrets: Iterable[str]) -> str | None:
    """Error texts come from exceptions and queue records; none may carry a secret out."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _run_row(run: DrainRun, secrets: Sequence[str]) -> RunRow:
    elapsed = run.elapsed_ms / 1000
    return RunRow(
        id=run.id,
        started_at=_aware(run.started_at),
        trigger=run.trigger,
        claimed=run.claimed,
        succeeded=run.succeeded,
        failed=run.failed,
        dead=run.dead,
        remaining=run.remaining,
        elapsed_seconds=round(elapsed, 3),
        jobs_per_second=round(run.claimed / elapsed, 1) if elapsed > 0 else None,
        stop_reason=run.stop_reason,
        error=redact(run.error, secrets),
    )


def _aware(moment: datetime) -> datetime:
    # Stored as UTC; a column without a zone gives it back naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def recent_runs(engine: Engine, kind: str, secrets: Sequence[str]) -> list[RunRow]:
    query = (
        sa.select(DrainRun)
        .where(col(DrainRun.kind) == kind)
        .order_by(col(DrainRun.started_at).desc())
        .limit(RECENT_RUNS)
    )
    with Session(engine) as session:
        return [_run_row(run, secrets) for run in session.scalars(query)]


def throughput(runs: Sequence[RunRow]) -> Throughput:
    if not runs:
        return Throughput()
    elapsed = sum(r.elapsed_seconds for r in runs)
    claimed = sum(r.claimed for r in runs)
    return Throughput(
        runs=len(runs),
        claimed=claimed,
        succeeded=sum(r.succeeded for r in runs),
        failed=sum(r.failed for r in runs),
        dead=sum(r.dead for r in runs),
        elapsed_seconds=round(elapsed, 3),
        jobs_per_second=round(claimed / elapsed, 1) if elapsed > 0 else None,
        last_run_at=runs[0].started_at,
        last_stop_reason=runs[0].stop_reason,
    )


def _queue_figures(
    queue: JobQueue | None, secrets: Sequence[str]
) -> tuple[QueueStats | None, list[DeadLetter], str | None]:
    if queue is None:
        return None, [], "queue not configured (set UPSTASH_REDIS_REST_URL and _TOKEN)"
    try:
        stats = queue.stats()
        letters = queue.dead_letters(limit=DEAD_LETTERS_SHOWN)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; SDK messages quote URLs
        log.warning("admin: queue unreachable (%s)", type(exc).__name__)
        return None, [], f"queue unreachable ({type(exc).__name__})"
    for letter in letters:
        letter.error = redact(letter.error, secrets) or ""
    return stats, letters, None


def gather(queue: JobQueue | None, engine: Engine, kind: str, settings: Settings) -> AdminOverview:
    """Everything the operator view shows. A part that is down is reported, not raised."""
    secrets = secret_values(settings)
    stats, letters, queue_error = _queue_figures(queue, secrets)
    runs_error = None
    try:
        runs = recent_runs(engine, kind, secrets)
    except Exception as exc:  # noqa: BLE001 - as above; a driver message may name the host
        log.warning("admin: database unreachable (%s)", type(exc).__name__)
        runs, runs_error = [], f"database unreachable ({type(exc).__name__})"
    return AdminOverview(
        kind=kind,
        generated_at=utcnow(),
        queue=stats,
        queue_error=queue_error,
        dead_letters=letters,
        runs=runs,
        runs_error=runs_error,
        throughput=throughput(runs),
    )


def dead_action(
    queue: JobQueue | None, action: DeadActionName, ids: Sequence[str] | None
) -> DeadActionResult:
    """Requeue or purge dead letters: the named ids, or all of them when `ids` is None.

    An explicit empty list does nothing: the queue reads "no ids" as "all", and a client that
    filtered its selection down to nothing must not wipe every dead letter by accident.
    """
    if queue is None:
        raise QueueUnavailable("queue not configured (set UPSTASH_REDIS_REST_URL and _TOKEN)")
    named: list[str] | Literal["all"] = "all" if ids is None else list(ids)
    if named != "all" and not named:
        return DeadActionResult(action=action, ids=[], count=0)
    selection = () if named == "all" else named
    try:
        if action == "requeue":
            count = queue.requeue_dead(selection)
        else:
            count = queue.purge_dead(selection)
    except Exception as exc:  # noqa: BLE001 - reported as 503 with the type only
        log.warning("admin: %s-dead failed (%s)", action, type(exc).__name__)
        raise QueueUnavailable(f"queue unreachable ({type(exc).__name__})") from None
    asked = "all" if named == "all" else len(named)
    log.info("admin: %s-dead ids=%s count=%d", action, asked, count)
    return DeadActionResult(action=action, ids=named, count=count, queue=_stats_after(queue))


def _stats_after(queue: JobQueue) -> QueueStats | None:
    # The action itself succeeded: a failure to read the figures afterwards must not report it
    # as failed (the operator would retry a purge that already happened).
    try:
        return queue.stats()
    except Exception as exc:  # noqa: BLE001 - the figures are a convenience
        log.warning("admin: queue figures after the action failed (%s)", type(exc).__name__)
        return None


# --- the page ---------------------------------------------------------------------------------
# Every value that reaches the page goes through `_e`: user ids and error texts are chosen by
# whoever can write to the queue or make a job fail, so they are attacker-influenced.

CHART_WIDTH = 1000
CHART_HEIGHT = 240
CHART_PAD_LEFT = 56
CHART_PAD_BOTTOM = 28
CHART_PAD_TOP = 12

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;
background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.muted{color:#5d6575}.banner{background:#fde8e8;border:1px solid #f5b5b5;padding:10px 14px;
border-radius:6px;margin:12px 0}
dl.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 16px;min-width:150px}
.card dt{color:#5d6575;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card dd{margin:2px 0 0;font-size:26px;font-weight:600}
.card p{margin:0;color:#5d6575;font-size:12px}
table{border-collapse:collapse;background:#fff;width:100%;border:1px solid #dde1e8}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.err{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all}
button{font:inherit;padding:3px 10px;border-radius:5px;border:1px solid #9aa3b5;background:#fff;
cursor:pointer}button.danger{border-color:#d46a6a;color:#a31f1f}
.chart{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:8px;margin-top:12px}
.legend span{display:inline-block;margin-right:16px}.swatch{display:inline-block;width:12px;
height:12px;margin-right:6px;vertical-align:-1px}#action-status{margin-left:12px}
"""

# Posts with the token the page was opened with (as a Bearer header, never echoed into the
# page), then reloads. Ids come from data attributes, which the server escaped.
_SCRIPT = """
(function () {
  var token = new URLSearchParams(window.location.search).get("token");
  var status = document.getElementById("action-status");
  document.querySelectorAll("button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var id = button.getAttribute("data-id");
      var what = (id === null ? "ALL dead letters" : "dead letter " + id);
      if (!window.confirm(button.textContent + ": " + what + "?")) { return; }
      var headers = {"Content-Type": "application/json"};
      if (token) { headers["Authorization"] = "Bearer " + token; }
      fetch(button.getAttribute("data-action"), {
        method: "POST", headers: headers, body: JSON.stringify(id === null ? {} : {ids: [id]})
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.detail || response.statusText); }
          status.textContent = body.action + ": " + body.count + " done";
          window.location.reload();
        });
      }).catch(function (error) { status.textContent = "failed: " + error.message; });
    });
  });
})();
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _duration(seconds: float | None) -> str:
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


def _when(moment: datetime | None) -> str:
    return BLANK if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _card(key: str, label: str, value: object, note: str = "") -> str:
    note_html = f"<p>{_e(note)}</p>" if note else ""
    return (
        f'<div class="card"><dt>{_e(label)}</dt><dd id="{_e(key)}">{_e(value)}</dd>'
        f"{note_html}</div>"
    )


def _queue_section(overview: AdminOverview) -> str:
    stats = overview.queue
    if stats is None:
        return f'<div class="banner" id="queue-error">{_e(overview.queue_error)}</div>'
    lease_note = f"in {stats.claims} claim(s)" if stats.claims else ""
    if stats.oldest_lease_expires_in_seconds is not None:
        lease_note += f"; first expires in {_duration(stats.oldest_lease_expires_in_seconds)}"
    retry_note = ""
    if stats.next_retry_in_seconds is not None:
        retry_note = f"next due in {_duration(stats.next_retry_in_seconds)}"
    cards = [
        _card("pending", "Pending", stats.pending),
        _card("oldest-pending", "Oldest pending", _duration(stats.oldest_pending_age_seconds)),
        _card("leased", "Leased", stats.leased, lease_note),
        _card("retrying", "Retrying", stats.retrying, retry_note),
        _card("dead", "Dead", stats.dead),
    ]
    return f'<dl class="cards">{"".join(cards)}</dl>'


def _throughput_section(overview: AdminOverview) -> str:
    if overview.runs_error is not None:
        return f'<div class="banner" id="runs-error">{_e(overview.runs_error)}</div>'
    t = overview.throughput
    rate = BLANK if t.jobs_per_second is None else f"{t.jobs_per_second:g}"
    cards = [
        _card("run-count", "Runs", t.runs, f"last {_when(t.last_run_at)}"),
        _card("drained", "Jobs drained", t.claimed, f"in {t.elapsed_seconds:g} s of draining"),
        _card("jobs-per-second", "Jobs / s", rate),
        _card("succeeded", "Succeeded", t.succeeded),
        _card("failed", "Failed", t.failed),
        _card("dead-in-runs", "Dead-lettered", t.dead),
    ]
    return f'<dl class="cards">{"".join(cards)}</dl>'


def _chart_scale(runs: Sequence[RunRow]) -> int:
    peak = max([r.claimed for r in runs] + [r.remaining or 0 for r in runs] + [1])
    # Round the axis up to a readable number (1, 2 or 5 times a power of ten).
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if peak <= step * magnitude:
                return step * magnitude
        magnitude *= 10


def _chart_axes(top: int) -> list[str]:
    plot_h = CHART_HEIGHT - CHART_PAD_TOP - CHART_PAD_BOTTOM
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        y = CHART_PAD_TOP + plot_h * (1 - fraction)
        label = f"{top * fraction:g}"
        parts.append(
            f'<line x1="{CHART_PAD_LEFT}" y1="{y:.1f}" x2="{CHART_WIDTH}" y2="{y:.1f}" '
            f'stroke="#e3e6eb"/><text x="{CHART_PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end" font-size="11" fill="#5d6575">{_e(label)}</text>'
        )
    return parts


def _chart(runs_newest_first: Sequence[RunRow]) -> str:
    """Drained jobs per run (bars) and the queue depth each run left behind (line)."""
    runs = list(reversed(runs_newest_first))
    if not runs:
        return '<p class="muted" id="chart-empty">No drain run recorded yet.</p>'
    top = _chart_scale(runs)
    plot_w = CHART_WIDTH - CHART_PAD_LEFT
    plot_h = CHART_HEIGHT - CHART_PAD_TOP - CHART_PAD_BOTTOM
    slot = plot_w / len(runs)
    base = CHART_PAD_TOP + plot_h
    parts = _chart_axes(top)
    points = []
    for i, run in enumerate(runs):
        x = CHART_PAD_LEFT + i * slot
        height = plot_h * run.claimed / top
        tip = f"{_when(run.started_at)}: drained {run.claimed}, left {run.remaining}"
        parts.append(
            f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{base - height:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="#4c78c8">'
            f"<title>{_e(tip)}</title></rect>"
        )
        if run.remaining is not None:
            points.append(f"{x + slot / 2:.1f},{base - plot_h * run.remaining / top:.1f}")
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="#e08a2e" '
            'stroke-width="2.5"/>'
        )
        parts.extend(
            f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="#e08a2e"/>'
            for p in points
        )
    parts.append(
        f'<text x="{CHART_PAD_LEFT}" y="{CHART_HEIGHT - 8}" font-size="11" fill="#5d6575">'
        f"{_e(_when(runs[0].started_at))}</text>"
        f'<text x="{CHART_WIDTH}" y="{CHART_HEIGHT - 8}" font-size="11" fill="#5d6575" '
        f'text-anchor="end">{_e(_when(runs[-1].started_at))}</text>'
    )
    return (
        f'<svg id="runs-chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" width="100%" '
        f'role="img" aria-label="Drained jobs and queue depth per run">{"".join(parts)}</svg>'
        '<div class="legend"><span><i class="swatch" style="background:#4c78c8"></i>'
        'drained (claimed) per run</span><span><i class="swatch" style="background:#e08a2e">'
        "</i>queue depth left (remaining)</span></div>"
    )


def _dead_section(overview: AdminOverview) -> str:
    letters = overview.dead_letters
    total = overview.queue.dead if overview.queue is not None else len(letters)
    if not letters:
        return '<p class="muted" id="dead-empty">No dead letters.</p>'
    more = ""
    if total > len(letters):
        more = f'<p class="muted">Showing the oldest {len(letters)} of {total}.</p>'
    rows = "".join(
        f'<tr class="dead-row"><td class="id">{_e(d.id)}</td><td class="num">{d.attempts}</td>'
        f'<td>{_e(_when(d.dead_at))}</td><td class="err">{_e(d.error)}</td><td>'
        f'<button data-action="dead/requeue" data-id="{_e(d.id)}">Requeue</button> '
        f'<button class="danger" data-action="dead/purge" data-id="{_e(d.id)}">Purge</button>'
        "</td></tr>"
        for d in letters
    )
    return (
        '<p><button data-action="dead/requeue">Requeue all</button> '
        '<button class="danger" data-action="dead/purge">Purge all</button>'
        '<span id="action-status" class="muted"></span></p>'
        f'{more}<table id="dead-letters"><thead><tr><th>id</th><th class="num">attempts</th>'
        "<th>dead since</th><th>last error</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _runs_table(runs: Sequence[RunRow]) -> str:
    if not runs:
        return ""
    rows = []
    for r in runs:
        rate = BLANK if r.jobs_per_second is None else f"{r.jobs_per_second:g}"
        remaining = BLANK if r.remaining is None else str(r.remaining)
        error = f'<div class="err">{_e(r.error)}</div>' if r.error else ""
        rows.append(
            f'<tr class="run-row"><td>{_e(_when(r.started_at))}</td><td>{_e(r.trigger)}</td>'
            f'<td class="num">{r.claimed}</td><td class="num">{r.succeeded}</td>'
            f'<td class="num">{r.failed}</td><td class="num">{r.dead}</td>'
            f'<td class="num">{r.elapsed_seconds:.3f}s</td><td class="num">{_e(rate)}</td>'
            f'<td class="num">{_e(remaining)}</td><td>{_e(r.stop_reason)}{error}</td></tr>'
        )
    head = "".join(
        f'<th class="num">{h}</th>' if h not in {"started", "trigger", "stop"} else f"<th>{h}</th>"
        for h in (
            "started",
            "trigger",
            "claimed",
            "succeeded",
            "failed",
            "dead",
            "elapsed",
            "jobs/s",
            "remaining",
            "stop",
        )
    )
    body = "".join(rows)
    return f'<table id="runs-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_html(overview: AdminOverview, nonce: str) -> str:
    """The whole page. `nonce` must match the response's Content-Security-Policy script-src."""
    sections = [
        f"<h1>Tally queue: {_e(overview.kind)}</h1>",
        f'<p class="muted">Generated {_e(_when(overview.generated_at))}. '
        "Reload for fresh figures.</p>",
        "<h2>Queue</h2>",
        _queue_section(overview),
        f"<h2>Recent drain runs (last {RECENT_RUNS})</h2>",
        _throughput_section(overview),
        f'<div class="chart">{_chart(overview.runs)}</div>',
        "<h2>Dead letters</h2>",
        _dead_section(overview),
        "<h2>Runs</h2>",
        _runs_table(overview.runs),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>Tally queue: {_e(overview.kind)}</title><style>{_STYLE}</style></head>"
        f'<body>{"".join(sections)}<script nonce="{_e(nonce)}">{_SCRIPT}</script></body></html>'
    )


def content_security_policy(nonce: str) -> str:
    """Only this page's own script runs, it may talk only to this origin, and nothing frames it."""
    return (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
