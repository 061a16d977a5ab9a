// The operator page's only script (served from this origin; the CSP runs nothing else).
// Every value from the server reaches the page as text (textContent, setAttribute), never as
// markup: user ids and error texts are chosen by whoever can enqueue or make a job fail.
// The admin secret is asked once and kept in this tab's sessionStorage; it travels only as an
// Authorization header, never in a URL.
(function () {
  "use strict";

  var KEY = "tally.admin-secret";
  var BLANK = "\u2013";
  var API = document.body.getAttribute("data-api");
  var REFRESH_MS = 1000 * Number(document.body.getAttribute("data-refresh-seconds") || 5);
  var state = {overview: null, older: [], olderCursor: null, user: null, busy: false};

  function $(id) { return document.getElementById(id); }
  function show(id, visible) { $(id).hidden = !visible; }
  function text(id, value) { $(id).textContent = value === null || value === undefined ? BLANK : String(value); }

  // --- formatting ------------------------------------------------------------------------------

  function when(iso) {
    if (!iso) { return BLANK; }
    return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return BLANK; }
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) { return s + "s"; }
    var m = Math.floor(s / 60); s %= 60;
    if (m < 60) { return m + "m " + (s < 10 ? "0" : "") + s + "s"; }
    var h = Math.floor(m / 60); m %= 60;
    if (h < 48) { return h + "h " + (m < 10 ? "0" : "") + m + "m"; }
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  var FORMATS = {
    when: when,
    age: function (iso) { return iso ? duration((Date.now() - Date.parse(iso)) / 1000) : BLANK; },
    due: function (iso) {
      if (!iso) { return BLANK; }
      var wait = (Date.parse(iso) - Date.now()) / 1000;
      return when(iso) + (wait > 0 ? " (in " + duration(wait) + ")" : " (due)");
    },
    seconds: function (value) { return value.toFixed(3) + "s"; }
  };

  // A row from its <template>: each [data-field] gets its value as text, each [data-row-id]
  // the row's id as an attribute.
  function row(template, values) {
    var node = $(template).content.firstElementChild.cloneNode(true);
    node.querySelectorAll("[data-field]").forEach(function (cell) {
      var value = values[cell.getAttribute("data-field")];
      var format = FORMATS[cell.getAttribute("data-format")];
      if (value === null || value === undefined || value === "") {
        cell.textContent = cell.classList.contains("err") ? "" : BLANK;
      } else {
        cell.textContent = format ? format(value) : String(value);
      }
    });
    node.querySelectorAll("[data-row-id]").forEach(function (b) { b.setAttribute("data-id", values.id); });
    return node;
  }

  function fill(tableId, template, items, emptyId) {
    var body = $(tableId).querySelector("tbody");
    body.textContent = "";
    items.forEach(function (item) { body.appendChild(row(template, item)); });
    show(tableId, items.length > 0);
    if (emptyId) { show(emptyId, items.length === 0); }
  }

  function matches(item) {
    var wanted = $("search-input").value.trim();
    return !wanted || item.id.indexOf(wanted) !== -1;
  }

  // --- the chart -------------------------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";
  var CHART = {width: 1000, height: 240, left: 56, right: 16, bottom: 28, top: 12};

  function svg(name, attributes, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function label(content, x, y, anchor, parent) {
    svg("text", {x: x, y: y, "font-size": 11, fill: "#5d6575", "text-anchor": anchor},
      parent).textContent = content;
  }

  // The value axis rounded up to 1, 2 or 5 times a power of ten.
  function scale(peak) {
    for (var magnitude = 1; ; magnitude *= 10) {
      for (var i = 0, steps = [1, 2, 5]; i < steps.length; i++) {
        if (peak <= steps[i] * magnitude) { return steps[i] * magnitude; }
      }
    }
  }

  // Drained jobs per run (bars) and the queue depth each run left (line), on a time axis: runs
  // an hour apart stand an hour apart, so a gap in the cron shows as a gap.
  function drawChart(runsNewestFirst) {
    var box = $("runs-chart-box");
    box.textContent = "";
    show("chart-empty", runsNewestFirst.length === 0);
    if (!runsNewestFirst.length) { return; }
    var runs = runsNewestFirst.slice().reverse();
    var times = runs.map(function (r) { return Date.parse(r.started_at); });
    var first = times[0], span = Math.max(times[times.length - 1] - first, 1);
    var peak = 1;
    runs.forEach(function (r) { peak = Math.max(peak, r.claimed, r.remaining || 0); });
    var top = scale(peak);
    var plotW = CHART.width - CHART.left - CHART.right;
    var plotH = CHART.height - CHART.top - CHART.bottom;
    var base = CHART.top + plotH;
    var barW = Math.max(2, Math.min(24, plotW / runs.length * 0.7));
    var root = svg("svg", {id: "runs-chart", viewBox: "0 0 " + CHART.width + " " + CHART.height,
      width: "100%", role: "img", "aria-label": "Drained jobs and queue depth per run, by time"});
    [0, 0.5, 1].forEach(function (fraction) {
      var y = CHART.top + plotH * (1 - fraction);
      svg("line", {x1: CHART.left, y1: y, x2: CHART.width - CHART.right, y2: y,
        stroke: "#e3e6eb"}, root);
      label(String(top * fraction), CHART.left - 6, y + 4, "end", root);
    });
    function x(i) {
      return runs.length === 1 ? CHART.left + plotW / 2 : CHART.left + plotW * (times[i] - first) / span;
    }
    var points = [];
    runs.forEach(function (run, i) {
      var height = plotH * run.claimed / top;
      var bar = svg("rect", {"class": "bar", x: (x(i) - barW / 2).toFixed(1),
        y: (base - height).toFixed(1), width: barW.toFixed(1), height: height.toFixed(1),
        fill: "#4c78c8"}, root);
      svg("title", {}, bar).textContent = when(run.started_at) + ": drained " + run.claimed +
        ", left " + run.remaining;
      if (run.remaining !== null) {
        points.push([x(i).toFixed(1), (base - plotH * run.remaining / top).toFixed(1)]);
      }
    });
    if (points.length) {
      svg("polyline", {points: points.map(function (p) { return p.join(","); }).join(" "),
        fill: "none", stroke: "#e08a2e", "stroke-width": 2.5}, root);
      points.forEach(function (p) { svg("circle", {cx: p[0], cy: p[1], r: 3, fill: "#e08a2e"}, root); });
    }
    label(when(runs[0].started_at), CHART.left, CHART.height - 8, "start", root);
    label(when(runs[runs.length - 1].started_at), CHART.width - CHART.right, CHART.height - 8, "end", root);
    box.appendChild(root);
  }

  // --- rendering the figures ---------------------------------------------------------------------

  function renderQueue(o) {
    var q = o.queue;
    show("queue-error", o.queue_error !== null);
    text("queue-error", o.queue_error);
    text("pending", q && q.pending);
    text("oldest-pending", q ? duration(q.oldest_pending_age_seconds) : null);
    text("leased", q && q.leased);
    var lease = q && q.claims ? "in " + q.claims + " claim(s)" : "";
    if (q && q.oldest_lease_expires_in_seconds !== null) {
      lease += "; first expires in " + duration(q.oldest_lease_expires_in_seconds);
    }
    $("leased-note").textContent = lease;
    text("retrying", q && q.retrying);
    $("retrying-note").textContent = q && q.next_retry_in_seconds !== null
      ? "next due in " + duration(q.next_retry_in_seconds) : "";
    text("dead", q && q.dead);
    fill("retrying-jobs", "retrying-row", o.retrying_jobs.filter(matches), "retrying-empty");
    fill("pending-jobs", "pending-row", o.pending_jobs.filter(matches), "pending-empty");
    $("pending-more").textContent = q && q.pending > o.pending_jobs.length
      ? "Showing the next " + o.pending_jobs.length + " of " + q.pending + "." : "";
    fill("dead-letters", "dead-row", o.dead_letters.filter(matches), "dead-empty");
    show("dead-actions", o.dead_letters.length > 0);
    $("dead-more").textContent = q && q.dead > o.dead_letters.length
      ? "Showing the oldest " + o.dead_letters.length + " of " + q.dead + "." : "";
  }

  function allRuns() {
    var seen = {};
    state.overview.runs.forEach(function (r) { seen[r.id] = true; });
    return state.overview.runs.concat(state.older.filter(function (r) { return !seen[r.id]; }));
  }

  function renderRuns() {
    var o = state.overview, t = o.throughput, runs = allRuns();
    show("runs-error", o.runs_error !== null);
    text("runs-error", o.runs_error);
    text("run-count", t.runs);
    $("run-count-note").textContent = "last " + when(t.last_run_at);
    text("drained", t.claimed);
    $("drained-note").textContent = "in " + t.elapsed_seconds + " s of draining";
    text("jobs-per-second", t.jobs_per_second);
    text("succeeded", t.succeeded);
    text("failed", t.failed);
    text("dead-in-runs", t.dead);
    fill("runs-table", "run-row", runs, null);
    drawChart(runs);
    var cursor = state.older.length ? state.olderCursor : o.older_runs;
    show("older-runs", cursor !== null);
    $("runs-shown").textContent = runs.length ? runs.length + " runs shown" : "";
  }

  function render(overview) {
    state.overview = overview;
    renderQueue(overview);
    renderRuns();
    text("updated", "Figures of " + when(overview.generated_at) + ".");
  }

  function renderUser(d) {
    show("user-detail", true);
    text("detail-id", d.id);
    var problems = [d.database_error, d.queue_error].filter(Boolean).join("; ");
    show("detail-error", problems !== "");
    $("detail-error").textContent = problems;
    var q = d.queue;
    text("detail-state", q && q.state);
    var note = "";
    if (q && q.due_at) { note = "due " + FORMATS.due(q.due_at); }
    if (q && q.dead_at) { note = "since " + when(q.dead_at); }
    if (q && q.enqueued_at) { note = "queued " + when(q.enqueued_at); }
    if (q && q.lease_expires_at) { note = "lease until " + when(q.lease_expires_at); }
    $("detail-state-note").textContent = note;
    text("detail-attempts", q && q.attempts);
    text("detail-data-version", d.exists ? d.data_version : "no such user");
    text("detail-summary-version", d.summary_version);
    $("detail-stale").textContent = d.stale === null ? "" : (d.stale ? "stale" : "fresh");
    $("detail-last-error").textContent = q && q.error ? "last error: " + q.error : "";
    $("detail-summaries").textContent = d.summaries.map(function (s) {
      return s.currency + ": " + s.transaction_count + " transactions, computed " +
        when(s.computed_at) + " from version " + s.source_version;
    }).join("; ");
    fill("detail-jobs", "job-row", d.jobs, null);
  }

  // --- talking to the API --------------------------------------------------------------------------

  function secret() { return window.sessionStorage.getItem(KEY); }

  function askForSecret(message) {
    show("secret-form", true);
    show("forget-secret", false);
    $("secret-error").textContent = message || "";
  }

  function api(method, path, body) {
    var headers = {Authorization: "Bearer " + secret(), Accept: "application/json"};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(API + path, {method: method, headers: headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)}).then(function (response) {
      return response.json().then(function (data) {
        if (response.status === 401) {
          window.sessionStorage.removeItem(KEY);
          askForSecret("That secret was not accepted.");
        }
        return {status: response.status, ok: response.ok, body: data};
      });
    });
  }

  function problem(answer) {
    var detail = answer.body && answer.body.detail;
    return typeof detail === "string" ? detail : "HTTP " + answer.status;
  }

  function refresh() {
    if (!secret() || state.busy) { return Promise.resolve(); }
    state.busy = true;
    var user = state.user;
    return api("GET", "/queue?format=json").then(function (answer) {
      // 503 still carries the figures that could be read.
      if (answer.status === 200 || answer.status === 503) {
        show("secret-form", false);
        show("forget-secret", true);
        render(answer.body);
      }
      return user ? loadUser(user) : null;
    }).catch(function (error) {
      text("updated", "Refresh failed (" + error.message + "); retrying.");
    }).then(function () { state.busy = false; });
  }

  function loadUser(id) {
    return api("GET", "/users/" + encodeURIComponent(id)).then(function (answer) {
      // 503 still carries what could be read (and says which part is down).
      if (answer.ok || (answer.status === 503 && answer.body.exists !== undefined)) {
        renderUser(answer.body);
        return;
      }
      if (answer.status === 401) { return; }
      show("user-detail", true);
      text("detail-id", id);
      show("detail-error", true);
      $("detail-error").textContent = problem(answer);
      fill("detail-jobs", "job-row", [], null);
    });
  }

  function showUser(id) {
    state.user = id || null;
    show("user-detail", Boolean(id));
    if (state.overview) { render(state.overview); }
    if (id) { loadUser(id); }
  }

  function act(button) {
    var action = button.getAttribute("data-action");
    var id = button.getAttribute("data-id");
    var what = id === null ? "ALL dead letters" : id;
    if (!window.confirm(button.textContent + ": " + what + "?")) { return; }
    api("POST", "/" + action, id === null ? {} : {ids: [id]}).then(function (answer) {
      $("action-status").textContent = answer.ok
        ? answer.body.action + ": " + answer.body.count + " done" : "failed: " + problem(answer);
      return refresh();
    }).catch(function (error) { $("action-status").textContent = "failed: " + error.message; });
  }

  function loadOlderRuns() {
    var cursor = state.older.length ? state.olderCursor : state.overview.older_runs;
    api("GET", "/runs?before=" + encodeURIComponent(cursor)).then(function (answer) {
      if (!answer.ok) { $("action-status").textContent = "failed: " + problem(answer); return; }
      state.older = state.older.concat(answer.body.runs);
      state.olderCursor = answer.body.older_runs;
      renderRuns();
    });
  }

  // --- wiring ----------------------------------------------------------------------------------------

  // A link from before the page asked for the secret (…?token=): keep the secret for this tab,
  // then take it out of the address bar and out of this history entry.
  var params = new URLSearchParams(window.location.search);
  if (params.has("token")) {
    window.sessionStorage.setItem(KEY, params.get("token"));
    params.delete("token");
    var query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) { return; }
    if (target.hasAttribute("data-action")) { act(target); }
    if (target.hasAttribute("data-user")) {
      $("search-input").value = target.textContent;
      showUser(target.textContent);
    }
  });
  $("older-runs").addEventListener("click", loadOlderRuns);
  $("forget-secret").addEventListener("click", function () {
    window.sessionStorage.removeItem(KEY);
    askForSecret("");
  });
  $("secret-form").addEventListener("submit", function (event) {
    event.preventDefault();
    window.sessionStorage.setItem(KEY, $("secret-input").value);
    $("secret-input").value = "";
    refresh();
  });
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    showUser($("search-input").value.trim());
  });
  $("search-input").addEventListener("input", function () {
    if (state.overview) { renderQueue(state.overview); }
  });

  var block = $("overview-data");
  if (block) { render(JSON.parse(block.textContent)); }
  if (secret()) {
    show("forget-secret", true);
    if (!block) { refresh(); }
  } else {
    askForSecret(block ? "Enter it to keep these figures live and to act on the queue." : "");
  }
  window.setInterval(refresh, REFRESH_MS);
})();
