// fuzzfleet dashboard: refreshes the rows and totals from /api/v1/status and draws the
// charts from /api/v1/targets/{name}/series with uPlot (vendored, built into the
// binary: nothing is fetched from outside the server).
//
// Every chart exposes its state as data-* attributes on its container, so tests (and
// anyone curious) can read what was drawn: data-points, data-x-ticks and data-y-ticks
// (the axis labels, "|"-separated), data-x-min/data-x-max (ms), data-y-unit,
// data-markers and data-marker-ids (one per bug), data-bars (crash bars with any).
"use strict";

const REFRESH_MS = 5000;
const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, "all": null };

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new Error(url + ": HTTP " + r.status);
  return r.json();
}

// 1234 → "1.2K"; SI steps (execs, coverage and files count in thousands).
function human(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "-";
  const units = ["", "K", "M", "G", "T"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  const r = i === 0 ? Math.round(n * 10) / 10 : n.toFixed(Math.abs(n) < 10 ? 1 : 0);
  return r + units[i];
}

// An exec rate as fleet_docs::fmt::rate writes it (the page's first render): 850, 1.2k, 45k, 1.5M.
function rate(r) {
  if (r === null || r === undefined || Number.isNaN(r) || r < 0.5) return "0";
  if (r >= 1e6) return (r / 1e6).toFixed(1) + "M";
  if (r >= 1e4) return (r / 1e3).toFixed(0) + "k";
  if (r >= 1e3) return (r / 1e3).toFixed(1) + "k";
  return r.toFixed(0);
}

// The execs/s cell as the server writes it: the rate now while running; after a stop
// the last rate and the run's average, labelled.
function rateText(t) {
  if (t.state === "running") return rate(t.execs_per_sec);
  const last = t.last_execs_per_sec || 0, avg = t.avg_execs_per_sec || 0;
  if (last > 0 || avg > 0) return "last " + rate(last) + "/s · avg " + rate(avg) + "/s";
  return "-";
}

// A size as fleet_docs::fmt::bytes writes it: 512B, 1.5K, 29.5K.
function bytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "K", "M", "G", "T"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? n + "B" : n.toFixed(1) + units[i];
}

// A duration as fleet_docs::fmt::duration writes it: 45s, 3m 20s, 6h, 2d 4h.
function duration(ms) {
  const s = Math.floor(ms / 1000);
  const units = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
  const i = units.findIndex(([n]) => s >= n);
  if (i < 0) return "0s";
  const [n, u] = units[i];
  let out = Math.floor(s / n) + u;
  if (i + 1 < units.length) {
    const [m, v] = units[i + 1];
    const rest = Math.floor((s % n) / m);
    if (rest > 0) out += " " + rest + v;
  }
  return out;
}

// What each chart plots: its series (field, label, unit formatter, scale) and y units.
const CHARTS = {
  execs: {
    unit: "execs/s",
    series: [{ field: "execs_per_sec", label: "execs/s", fmt: (v) => rate(v) + "/s", stroke: "#0969da", fill: "rgba(9,105,218,0.08)" }],
  },
  coverage: {
    unit: "edges",
    series: [
      { field: "coverage", label: "edges (cov)", fmt: human, stroke: "#8250df" },
      { field: "features", label: "features (ft)", fmt: human, stroke: "#bf3989", scale: "ft" },
    ],
    right: { scale: "ft", unit: "features" },
  },
  corpus: {
    unit: "files",
    series: [
      { field: "corpus_files", label: "corpus files", fmt: (v) => human(v) + " files", stroke: "#bf8700" },
      { field: "corpus_bytes", label: "corpus size", fmt: bytes, stroke: "#6e7781", scale: "bytes" },
    ],
    right: { scale: "bytes", unit: "bytes", fmt: bytes },
  },
  line_coverage: {
    unit: "%",
    percent: true,
    series: [{ field: "percent", label: "line coverage", fmt: (v) => v.toFixed(1) + " %", stroke: "#1a7f37", points: true }],
  },
  crashes: {
    unit: "inputs",
    bars: true,
    series: [{ field: "inputs", label: "new crashing inputs", fmt: (v) => String(v), stroke: "#cf222e", fill: "rgba(207,34,46,0.5)" }],
  },
};

// The x range of a chart: the window asked for, or for "all" the extent of everything
// the target's series holds, the same for each of its charts so they line up. A target
// whose whole history fills less than a twentieth of the window asked for (a campaign
// minutes old, in the default day) is drawn from its first sample, not squeezed into the
// window's last pixels.
function xRange(doc, range) {
  const until = Date.parse(doc.until);
  if (RANGES[range]) return youngHistory(doc, until, RANGES[range]) || [until - RANGES[range], until];
  const times = doc.points.map((p) => p.t).concat(doc.crash_bins.map((b) => b.t), doc.bugs.map((b) => b.t), (doc.line_coverage || []).map((p) => p.t));
  const from = times.length ? times.reduce((a, b) => Math.min(a, b)) : until - 3600e3;
  return [Math.min(from, until - 60e3), until];
}

// The range of a history younger than a twentieth of `window`, or null.
function youngHistory(doc, until, window) {
  const from = Date.parse(doc.history_from || doc.since);
  if (!(from > until - window / 20)) return null;
  const span = Math.max(until - from, 60e3);
  return [until - span * 1.05, until];
}

// Rows of the chart's data: x (ms) and one array per series, with a null wherever the
// campaign did not run for a while, so a gap between runs shows as a gap.
function chartData(doc, kind) {
  const spec = CHARTS[kind];
  let rows;
  if (kind === "line_coverage") rows = doc.line_coverage || [];
  else if (kind === "crashes") rows = fillBins(doc);
  else rows = doc.points;
  const xs = [], cols = spec.series.map(() => []);
  const gap = gapOf(rows.map((r) => r.t));
  rows.forEach((r, i) => {
    if (!spec.bars && i > 0 && r.t - rows[i - 1].t > gap) {
      xs.push(rows[i - 1].t + 1);
      cols.forEach((c) => c.push(null));
    }
    xs.push(r.t);
    spec.series.forEach((s, j) => {
      const v = r[s.field];
      cols[j].push(v === undefined ? null : v);
    });
  });
  return [xs, ...cols];
}

// Crash bars: every interval of the window, empty ones as 0.
function fillBins(doc) {
  const w = doc.bin_ms;
  const until = Date.parse(doc.until);
  const have = new Map(doc.crash_bins.map((b) => [b.t, b.inputs]));
  const first = doc.crash_bins.length ? doc.crash_bins[0].t : until;
  let from = Date.parse(doc.since);
  if (from < first - 60 * w) from = first - w;
  from -= ((from % w) + w) % w;
  const out = [];
  for (let t = from; t <= until && out.length < 2000; t += w) out.push({ t: t, inputs: have.get(t) || 0 });
  return out;
}

// A break in the line: three times the usual spacing of points, at least a minute.
function gapOf(times) {
  if (times.length < 3) return Infinity;
  const d = [];
  for (let i = 1; i < times.length; i++) d.push(times[i] - times[i - 1]);
  d.sort((a, b) => a - b);
  return Math.max(3 * d[Math.floor(d.length / 2)], 60e3);
}

// One marker per bug (a bucket first seen in the window), its id on hover; placed over
// the plot area at the bug's time.
function markersPlugin(el) {
  function place(u) {
    const over = u.over;
    over.querySelectorAll(".bug-marker").forEach((m) => m.remove());
    const bugs = (el._doc && el._doc.bugs) || [];
    const ids = [];
    for (const b of bugs) {
      const left = u.valToPos(b.t, "x");
      if (!(left >= 0 && left <= over.clientWidth)) continue;
      const m = document.createElement("span");
      m.className = "bug-marker";
      m.style.left = left + "px";
      m.dataset.id = b.id;
      m.title = "new bug " + b.id + " (" + b.kind + "), first seen " + new Date(b.t).toISOString().replace("T", " ").slice(0, 19) + " UTC";
      m.addEventListener("click", () => { location.href = "/bucket/" + b.id; });
      over.appendChild(m);
      ids.push(b.id);
    }
    el.dataset.markers = String(ids.length);
    el.dataset.markerIds = ids.join(" ");
  }
  return { hooks: { draw: [place] } };
}

// After each draw: what the chart shows, as data-* attributes.
function statePlugin(el, kind) {
  return {
    hooks: {
      draw: [(u) => {
        const ax = (i) => ((u.axes[i] && u.axes[i]._values) || []).filter((v) => v !== null && v !== "").join("|");
        el.dataset.xTicks = ax(0);
        el.dataset.yTicks = ax(1);
        el.dataset.xMin = String(Math.round(u.scales.x.min));
        el.dataset.xMax = String(Math.round(u.scales.x.max));
        const ys = u.data[1] || [];
        el.dataset.points = String(ys.filter((v) => v !== null && v !== undefined).length);
        el.dataset.gaps = String(ys.filter((v) => v === null).length);
        if (kind === "crashes") el.dataset.bars = String(ys.filter((v) => v > 0).length);
        el.dataset.drawn = String(Number(el.dataset.drawn || 0) + 1);
      }],
    },
  };
}

function chartOpts(el, kind, doc, range, width) {
  const spec = CHARTS[kind];
  const yFmt = spec.percent ? (u, vals) => vals.map((v) => v + " %")
    : kind === "execs" ? (u, vals) => vals.map((v) => rate(v) + "/s")
    : (u, vals) => vals.map((v) => human(v));
  const axes = [
    { stroke: "#57606a", grid: { stroke: "#eaeef2" }, ticks: { stroke: "#d0d7de" } },
    { stroke: "#57606a", grid: { stroke: "#eaeef2" }, ticks: { stroke: "#d0d7de" }, values: yFmt, size: 60, label: spec.unit, labelSize: 16 },
  ];
  if (spec.right) {
    axes.push({ scale: spec.right.scale, side: 1, stroke: "#6e7781", grid: { show: false }, size: 60, label: spec.right.unit, labelSize: 16,
      values: (u, vals) => vals.map((v) => (spec.right.fmt || human)(v)) });
  }
  const scales = { x: { time: true } };
  const [x0, x1] = xRange(doc, range);
  scales.x.range = () => [x0, x1];
  scales.y = spec.percent ? { range: [0, 100] } : { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
  if (spec.right) scales[spec.right.scale] = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
  const series = [{ value: (u, v) => v === null ? "-" : new Date(v).toISOString().replace("T", " ").slice(0, 19) + " UTC" }];
  for (const s of spec.series) {
    const one = { label: s.label, stroke: s.stroke, width: 1.5, scale: s.scale || "y", value: (u, v) => v === null || v === undefined ? "-" : s.fmt(v) };
    if (s.fill) one.fill = s.fill;
    if (spec.bars) { one.paths = uPlot.paths.bars({ size: [0.9, 40], align: 1 }); one.points = { show: false }; }
    if (s.points) one.points = { show: true, size: 6 };
    series.push(one);
  }
  return {
    width: width, height: 200, ms: 1, series: series, axes: axes, scales: scales,
    cursor: { drag: { x: false, y: false } },
    plugins: [statePlugin(el, kind), markersPlugin(el)],
  };
}

const charts = new Map();

function drawChart(el, doc, range) {
  const kind = el.dataset.chart;
  el._doc = doc;
  const data = chartData(doc, kind);
  const width = Math.max(300, Math.min(el.clientWidth || 640, 900));
  const old = charts.get(el);
  if (old) old.destroy();
  const empty = el.querySelector(".nodata");
  if (empty) empty.remove();
  const u = new uPlot(chartOpts(el, kind, doc, range, width), data, el);
  charts.set(el, u);
  el.dataset.range = range;
  if (data[0].length === 0) {
    const p = document.createElement("div");
    p.className = "nodata";
    p.textContent = kind === "line_coverage" ? "no coverage round yet (fuzzfleet coverage)" : kind === "crashes" ? "no crash in this window" : "no data in this window";
    el.appendChild(p);
  }
}

// A sparkline: the target's coverage over the window, its min and max written beside it.
function drawSpark(el, doc) {
  const field = el.dataset.metric;
  const pts = doc.points.filter((p) => p[field] !== null && p[field] !== undefined);
  const xs = pts.map((p) => p.t), ys = pts.map((p) => p[field]);
  el.dataset.points = String(ys.length);
  const label = el.parentElement.querySelector(".spark-range");
  const old = charts.get(el);
  if (old) old.destroy();
  el.innerHTML = "";
  if (ys.length === 0) {
    el.dataset.min = ""; el.dataset.max = "";
    if (label) label.textContent = "not run in 24 h";
    return;
  }
  const min = Math.min(...ys), max = Math.max(...ys);
  el.dataset.min = String(min);
  el.dataset.max = String(max);
  if (label) label.innerHTML = "<span class=\"spark-min\">min " + human(min) + "</span> <span class=\"spark-max\">max " + human(max) + "</span>";
  const until = Date.parse(doc.until);
  const u = new uPlot({
    width: 140, height: 30, ms: 1, legend: { show: false }, cursor: { show: false },
    axes: [{ show: false }, { show: false }],
    scales: { x: { time: true, range: () => youngHistory(doc, until, RANGES["24h"]) || [until - RANGES["24h"], until] }, y: { range: (u, a, b) => [Math.min(0, a), b > a ? b : a + 1] } },
    series: [{}, { stroke: "#8250df", width: 1.25, fill: "rgba(130,80,223,0.08)", points: { show: false } }],
  }, [xs, ys], el);
  charts.set(el, u);
}

function range() {
  return document.body.dataset.range || "24h";
}

async function refreshCharts() {
  const r = range();
  const since = RANGES[r] ? Date.now() - RANGES[r] : 0;
  const els = Array.from(document.querySelectorAll(".chart, .spark"));
  const targets = [...new Set(els.map((e) => e.dataset.target))];
  await Promise.all(targets.map(async (name) => {
    const sparkOnly = els.filter((e) => e.dataset.target === name).every((e) => e.classList.contains("spark"));
    const url = "/api/v1/targets/" + encodeURIComponent(name) + "/series" + (sparkOnly ? "" : "?since=" + since);
    try {
      const doc = await getJSON(url);
      for (const el of els) {
        if (el.dataset.target !== name) continue;
        if (el.classList.contains("spark")) drawSpark(el, doc);
        else drawChart(el, doc, r);
      }
      const caption = document.getElementById("window");
      if (caption && !sparkOnly) caption.textContent = doc.samples + " samples, bars of " + duration(doc.bin_ms);
    } catch (e) {
      console.warn(e);
    }
  }));
}

async function refreshRows() {
  const doc = await getJSON("/api/v1/status");
  for (const t of doc.targets) {
    const row = document.querySelector('tr.target[data-target="' + CSS.escape(t.name) + '"]');
    if (!row) continue;
    const set = (field, text) => {
      const cell = row.querySelector('[data-field="' + field + '"]');
      if (cell) cell.textContent = text;
    };
    set("execs_per_sec", rateText(t));
    const eps = row.querySelector('[data-field="execs_per_sec"]');
    if (eps) {
      eps.dataset.running = String(t.state === "running");
      eps.dataset.now = String(t.execs_per_sec);
      eps.dataset.last = String(t.last_execs_per_sec);
      eps.dataset.avg = String(t.avg_execs_per_sec);
    }
    set("coverage", t.coverage === null ? "-" : t.coverage);
    set("corpus", t.corpus_files + " / " + bytes(t.corpus_bytes));
    set("crashes", t.crashes);
    set("last_new_coverage_at", t.last_new_coverage_at ? t.last_new_coverage_at.replace("T", " ").replace("Z", "") : "-");
  }
}

async function refresh() {
  try {
    // The overview reloads itself whole (its totals and order come from the server).
    if (document.body.dataset.page === "target") await refreshRows();
    await refreshCharts();
    const u = document.getElementById("updated");
    if (u) u.textContent = " · updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (e) {
    const u = document.getElementById("updated");
    if (u) u.textContent = " · " + e.message;
  }
}

// The crashes page's filters apply as soon as one changes.
for (const sel of document.querySelectorAll("#filters select")) {
  sel.addEventListener("change", () => sel.form.submit());
}

refresh();
setInterval(refresh, REFRESH_MS);
