// fuzzfleet dashboard: refreshes the rows from /api/v1/status and draws each
// svg.plot from /api/v1/targets/{name}/series. Plain DOM and SVG, no libraries.
"use strict";

const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new Error(url + ": HTTP " + r.status);
  return r.json();
}

function human(n) {
  if (n === null || n === undefined) return "-";
  const units = ["", "K", "M", "G", "T"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? Math.round(n * 10) / 10 : n.toFixed(1)) + units[i];
}

function bytes(n) {
  const units = ["B", "K", "M", "G", "T"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? n + "B" : n.toFixed(1) + units[i];
}

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

// Draws one metric of a series into an svg: a line through the points, a
// circle on the newest, and a red mark at each crash's time.
function draw(svg, doc, metric) {
  const vb = svg.viewBox.baseVal;
  const W = vb.width, H = vb.height, pad = 3;
  // Line coverage comes from its own list (one point per coverage computation).
  const source = metric === "line_coverage"
    ? (doc.line_coverage || []).map((c) => ({ t: c.t, line_coverage: c.percent }))
    : doc.points;
  const pts = source.filter((p) => p[metric] !== null && p[metric] !== undefined);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  svg.dataset.points = String(pts.length);
  svg.dataset.crashes = String(doc.crashes.length);
  // The time axis spans the data (points and crashes), not the whole window asked for.
  const times = pts.map((p) => p.t).concat(doc.crashes.map((c) => c.t));
  const from = times.length ? Math.min(...times) : Date.parse(doc.since);
  const to = times.length ? Math.max(...times) : Date.parse(doc.until);
  const x = (t) => pad + ((t - from) / Math.max(to - from, 1)) * (W - 2 * pad);
  const small = svg.classList.contains("small");
  const vals = pts.map((p) => p[metric]);
  const lo = Math.min(0, ...vals), hi = Math.max(1, ...vals);
  const y = (v) => H - pad - ((v - lo) / (hi - lo || 1)) * (H - 2 * pad);
  svg.appendChild(el("rect", { x: 0, y: 0, width: W, height: H, class: "bg" }));
  for (const c of doc.crashes) {
    const cx = x(c.t).toFixed(1);
    if (!small) svg.appendChild(el("line", { x1: cx, x2: cx, y1: 0, y2: H, class: "crash-line" }));
    const mark = el("circle", { cx: cx, cy: pad + 1, r: small ? 1.5 : 2.5, class: "crash", "data-id": c.id });
    const title = el("title", {});
    title.textContent = c.kind + " " + c.id + " at " + new Date(c.t).toISOString();
    mark.appendChild(title);
    svg.appendChild(mark);
  }
  if (pts.length === 0) {
    const t = el("text", { x: W / 2, y: H / 2 + 4, class: "nodata", "text-anchor": "middle" });
    t.textContent = "no data yet";
    svg.appendChild(t);
    return;
  }
  const d = pts.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p[metric]).toFixed(1)).join(" ");
  svg.appendChild(el("path", { d: d, class: "line " + metric }));
  const last = pts[pts.length - 1];
  svg.appendChild(el("circle", { cx: x(last.t).toFixed(1), cy: y(last[metric]).toFixed(1), r: 2, class: "last" }));
  const label = el("text", { x: W - pad, y: 10, "text-anchor": "end", class: "value" });
  label.textContent = human(last[metric]);
  svg.appendChild(label);
  const caption = svg.parentElement && svg.parentElement.querySelector(".last");
  if (caption) caption.textContent = "now " + human(last[metric]);
}

async function refreshPlots() {
  const plots = Array.from(document.querySelectorAll("svg.plot"));
  const targets = [...new Set(plots.map((p) => p.dataset.target))];
  await Promise.all(targets.map(async (name) => {
    try {
      const doc = await getJSON("/api/v1/targets/" + encodeURIComponent(name) + "/series");
      for (const svg of plots) if (svg.dataset.target === name) draw(svg, doc, svg.dataset.metric);
    } catch (e) {
      console.warn(e);
    }
  }));
}

async function refreshRows() {
  const doc = await getJSON("/api/v1/status");
  const s = doc.system;
  const sys = document.getElementById("system");
  if (sys) sys.textContent = " · cpu " + Math.round(s.cpu_percent) + "% · mem " + bytes(s.mem_used_bytes) + " · disk " + Math.round(s.disk_used_percent) + "%";
  for (const t of doc.targets) {
    const row = document.querySelector('tr.target[data-target="' + CSS.escape(t.name) + '"]');
    if (!row) continue;
    const set = (field, text) => {
      const cell = row.querySelector('[data-field="' + field + '"]');
      if (cell) cell.textContent = text;
    };
    set("state", t.state);
    row.querySelector('[data-field="state"]').className = "state " + t.state;
    set("execs_per_sec", Math.round(t.execs_per_sec));
    set("coverage", t.coverage === null ? "-" : t.coverage);
    set("corpus", t.corpus_files + " / " + bytes(t.corpus_bytes));
    set("crashes", t.crashes);
    set("last_new_coverage_at", t.last_new_coverage_at || "-");
  }
}

async function refresh() {
  try {
    if (document.querySelector("tr.target")) await refreshRows();
    await refreshPlots();
    const u = document.getElementById("updated");
    if (u) u.textContent = " · updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (e) {
    const u = document.getElementById("updated");
    if (u) u.textContent = " · " + e.message;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
