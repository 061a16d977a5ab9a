// The operator page's only script (served from this origin; the CSP runs nothing else).
// Every value from the server reaches the page as text (textContent, setAttribute), never as
// markup: user ids and error texts are chosen by whoever can enqueue or make a job fail.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var CHART = {width: 1000, height: 240, left: 56, bottom: 28, top: 12};

  function when(iso) {
    if (!iso) { return "\u2013"; }
    return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function svg(name, attributes, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function label(text, x, y, anchor, parent) {
    var node = svg("text", {x: x, y: y, "font-size": 11, fill: "#5d6575",
      "text-anchor": anchor}, parent);
    node.textContent = text;
    return node;
  }

  // Round the value axis up to 1, 2 or 5 times a power of ten.
  function scale(peak) {
    for (var magnitude = 1; ; magnitude *= 10) {
      var steps = [1, 2, 5];
      for (var i = 0; i < steps.length; i++) {
        if (peak <= steps[i] * magnitude) { return steps[i] * magnitude; }
      }
    }
  }

  // Drained jobs per run (bars) and the queue depth each run left (line), on a time axis: runs
  // an hour apart stand an hour apart, so a gap in the cron shows as a gap.
  function drawChart(box, runsNewestFirst) {
    box.textContent = "";
    var runs = runsNewestFirst.slice().reverse();
    if (!runs.length) { return; }
    var times = runs.map(function (r) { return Date.parse(r.started_at); });
    var first = times[0], last = times[times.length - 1];
    var span = Math.max(last - first, 1);
    var peak = 1;
    runs.forEach(function (r) { peak = Math.max(peak, r.claimed, r.remaining || 0); });
    var top = scale(peak);
    var plotW = CHART.width - CHART.left - 16, plotH = CHART.height - CHART.top - CHART.bottom;
    var base = CHART.top + plotH;
    var barW = Math.max(2, Math.min(24, plotW / runs.length * 0.7));
    var root = svg("svg", {id: "runs-chart", viewBox: "0 0 " + CHART.width + " " + CHART.height,
      width: "100%", role: "img", "aria-label": "Drained jobs and queue depth per run, by time"});
    [0, 0.5, 1].forEach(function (fraction) {
      var y = (CHART.top + plotH * (1 - fraction)).toFixed(1);
      svg("line", {x1: CHART.left, y1: y, x2: CHART.width, y2: y, stroke: "#e3e6eb"}, root);
      label(String(top * fraction), CHART.left - 6, Number(y) + 4, "end", root);
    });
    function x(i) {
      return runs.length === 1 ? CHART.left + plotW / 2
        : CHART.left + plotW * (times[i] - first) / span;
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
    label(when(runs[runs.length - 1].started_at), CHART.width, CHART.height - 8, "end", root);
    box.appendChild(root);
  }

  function data() {
    var block = document.getElementById("overview-data");
    return block ? JSON.parse(block.textContent) : null;
  }

  // Posts with the token the page was opened with (as a Bearer header, never echoed into the
  // page), then reloads. Ids come from data attributes, which the server escaped.
  function wireButtons() {
    var token = new URLSearchParams(window.location.search).get("token");
    var status = document.getElementById("action-status");
    document.querySelectorAll("button[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var id = button.getAttribute("data-id");
        var what = (id === null ? "ALL dead letters" : "dead letter " + id);
        if (!window.confirm(button.textContent + ": " + what + "?")) { return; }
        var headers = {"Content-Type": "application/json"};
        if (token) { headers.Authorization = "Bearer " + token; }
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
  }

  var overview = data();
  var box = document.getElementById("runs-chart-box");
  if (overview && box) { drawChart(box, overview.runs); }
  wireButtons();
})();
