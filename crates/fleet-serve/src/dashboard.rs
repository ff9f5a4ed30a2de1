//! The web dashboard: server-rendered pages (the node's overview, a target, the crashes,
//! a bug) that a small built-in script refreshes and decorates with charts drawn by
//! uPlot from the series API. uPlot is vendored (scripts/vendor-uplot.sh) and, like the
//! script and the stylesheet, built into the binary: nothing is loaded from outside.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use fleet_docs::fmt;
use fleet_docs::report::{Bucket, StatusDoc, TargetStatus};
use serde::Deserialize;

use crate::app::App;
use crate::crash_pages::{SEVERITIES, by_severity, plural, short_time};
use crate::figures::{rate_attrs, rate_text, schedule_of, shown_rate, strategies_table};

const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");
const UPLOT_JS: &str = include_str!("../assets/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("../assets/vendor/uplot/LICENSE");

/// The chart ranges a page offers (the first is the default).
pub const RANGES: [&str; 5] = ["24h", "1h", "7d", "30d", "all"];

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(node_page))
        .route("/fleet", get(fleet_page))
        .route("/target/{name}", get(target_page))
        .route("/crashes", get(crate::crash_pages::crashes_page))
        .route("/bucket/{id}", get(crate::crash_pages::bucket_page))
        .route(
            "/assets/app.js",
            get(|q| {
                asset(
                    "text/javascript",
                    SCRIPT,
                    Some(ASSET_URLS.script.as_str()),
                    q,
                )
            }),
        )
        .route(
            "/assets/style.css",
            get(|q| asset("text/css", STYLE, Some(ASSET_URLS.style.as_str()), q)),
        )
        .route(
            "/assets/vendor/uPlot.iife.min.js",
            get(|q| {
                asset(
                    "text/javascript",
                    UPLOT_JS,
                    Some(ASSET_URLS.uplot_js.as_str()),
                    q,
                )
            }),
        )
        .route(
            "/assets/vendor/uPlot.min.css",
            get(|q| {
                asset(
                    "text/css",
                    UPLOT_CSS,
                    Some(ASSET_URLS.uplot_css.as_str()),
                    q,
                )
            }),
        )
        .route(
            "/assets/vendor/uPlot.LICENSE.txt",
            get(|q| asset("text/plain", UPLOT_LICENSE, None, q)),
        )
        .fallback(not_found)
}

/// An asset's version: the first 12 hex digits of its SHA-1.
fn version(text: &str) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(text.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// The address pages load an asset from: `path?v=<version>`, so a page of a new binary
/// asks for its own assets, never for a copy of the old ones a browser kept.
fn versioned(path: &str, text: &str) -> String {
    format!("{path}?v={}", version(text))
}

/// The addresses of the assets every page loads (computed once).
struct AssetUrls {
    script: String,
    style: String,
    uplot_js: String,
    uplot_css: String,
}

static ASSET_URLS: std::sync::LazyLock<AssetUrls> = std::sync::LazyLock::new(|| AssetUrls {
    script: versioned("/assets/app.js", SCRIPT),
    style: versioned("/assets/style.css", STYLE),
    uplot_js: versioned("/assets/vendor/uPlot.iife.min.js", UPLOT_JS),
    uplot_css: versioned("/assets/vendor/uPlot.min.css", UPLOT_CSS),
});

/// An asset built into this binary. Asked for at the address pages load it from
/// (`versioned`, its current version), a browser may keep it for good (another version
/// has another address); at any other address, for 5 minutes.
async fn asset(
    kind: &'static str,
    text: &'static str,
    versioned: Option<&'static str>,
    RawQuery(query): RawQuery,
) -> Response {
    let current = versioned
        .and_then(|url| url.split_once('?'))
        .is_some_and(|(_, v)| query.as_deref() == Some(v));
    let cache = if current {
        "max-age=31536000, immutable"
    } else {
        "max-age=300"
    };
    (
        [
            (header::CONTENT_TYPE, format!("{kind}; charset=utf-8")),
            (header::CACHE_CONTROL, cache.to_string()),
        ],
        text,
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(crate::docs::ErrorDoc {
            error: "no such page".into(),
        }),
    )
        .into_response()
}

pub fn page(app: &App, kind: &str, title: &str, body: &str) -> Html<String> {
    page_with(app, kind, title, body, "")
}

/// A page; `attrs` are extra attributes of its `<body>` (already escaped).
pub fn page_with(app: &App, kind: &str, title: &str, body: &str, attrs: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · fuzzfleet</title>\
         <link rel=\"stylesheet\" href=\"{uplot_css}\">\
         <link rel=\"stylesheet\" href=\"{style}\">\
         </head><body data-page=\"{kind}\"{attrs}>\
         <header><a href=\"/\">fuzzfleet</a> · node <b>{node}</b> · \
         <a href=\"/crashes\">crashes</a>{fleet}<span id=\"updated\"></span></header>\
         <main>{body}</main><script src=\"{uplot_js}\"></script>\
         <script src=\"{script}\"></script></body></html>\n",
        title = esc(title),
        node = esc(&app.node),
        uplot_css = ASSET_URLS.uplot_css,
        style = ASSET_URLS.style,
        uplot_js = ASSET_URLS.uplot_js,
        script = ASSET_URLS.script,
        fleet = if app.has_fleet() {
            " · <a href=\"/fleet\">fleet</a>"
        } else {
            ""
        },
    ))
}

pub fn error_page(app: &App, code: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p><a href=\"/\">back to the node</a></p>",
        esc(message)
    );
    (code, page(app, "error", message, &body)).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    sort: Option<String>,
    range: Option<String>,
}

/// The overview's columns that sort: (key, header). The keys are the status document's
/// fields; `crashes` counts crash hits (docs/crashes.md, "Counts").
const SORTS: [(&str, &str); 6] = [
    ("name", "target"),
    ("state", "state"),
    ("execs_per_sec", "execs/s"),
    ("coverage", "coverage"),
    ("crashes", "crash hits"),
    ("last_new_coverage_at", "last new coverage"),
];

/// Whether a target has never had a worker: apart from one that ran and stopped.
pub fn never_run(t: &TargetStatus) -> bool {
    t.never_run
}

/// The state shown: `never run` for a target that never had a worker.
fn shown_state(t: &TargetStatus) -> &str {
    if never_run(t) && t.state != "failed" {
        "never run"
    } else {
        &t.state
    }
}

/// The overview: a totals line, the system line, a row per target (sortable) with a
/// sparkline of its coverage, and the bugs.
async fn node_page(
    State(app): State<Arc<App>>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    // An operator's machine that fuzzes nothing itself: its page is the fleet's.
    if app.has_fleet() && !app.has_state() {
        return axum::response::Redirect::to("/fleet").into_response();
    }
    let (status, crashes) = match (app.status().await, app.crashes().await) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(&app, StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
    };
    let fuzzed_ms = app.fuzzed_ms().await.unwrap_or(0);
    let bugs: Vec<&Bucket> = crashes
        .buckets
        .iter()
        .filter(|b| b.signature.is_some())
        .collect();
    let mut body = String::from("<h1>Targets</h1>");
    body += &totals_line(&status, &bugs, fuzzed_ms);
    body += &system_line(&status);
    body += &errors_line(&status);

    let sort = query
        .sort
        .as_deref()
        .filter(|s| SORTS.iter().any(|(k, _)| k == s))
        .unwrap_or("state");
    let mut targets: Vec<&TargetStatus> = status.targets.iter().collect();
    sort_targets(&mut targets, sort);
    body += "<table id=\"targets\" class=\"overview\"><thead><tr>";
    for (key, label) in SORTS {
        let mark = if key == sort { " ▾" } else { "" };
        let _ = write!(
            body,
            "<th><a class=\"sort\" href=\"/?sort={key}\">{label}</a>{mark}</th>"
        );
        if key == "state" {
            body += "<th>schedule</th>";
        }
        if key == "coverage" {
            body += "<th>coverage, 24 h</th><th>corpus</th>";
        }
    }
    let _ = write!(body, "</tr></thead><tbody data-sort=\"{sort}\">");
    for t in &targets {
        body += &overview_row(t);
    }
    body += "</tbody></table>";
    let _ = write!(
        body,
        "<h2>Bugs <a class=\"more\" href=\"/crashes\">all crashes</a></h2>"
    );
    body += &if bugs.is_empty() {
        "<p id=\"crashes\" class=\"empty\">No bugs filed yet.</p>".to_string()
    } else {
        crate::crash_pages::bucket_rows(&bugs, true)
    };
    let mut html = page(&app, "node", "node", &body).0;
    // The overview reloads itself: its totals and order are the server's.
    html = html.replacen(
        "<meta charset=\"utf-8\">",
        "<meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"15\">",
        1,
    );
    Html(html).into_response()
}

fn sort_targets(targets: &mut [&TargetStatus], key: &str) {
    let rank = |t: &TargetStatus| match shown_state(t) {
        "running" => 0,
        "failed" => 1,
        "waiting" => 2,
        "never run" => 4,
        _ => 3,
    };
    match key {
        "name" => targets.sort_by(|a, b| a.name.cmp(&b.name)),
        // By the rate shown: the live one, or the last one of a stopped target.
        "execs_per_sec" => targets.sort_by(|a, b| shown_rate(b).total_cmp(&shown_rate(a))),
        "coverage" => targets.sort_by_key(|t| std::cmp::Reverse(t.coverage)),
        "crashes" => targets.sort_by_key(|t| std::cmp::Reverse(t.crashes)),
        "last_new_coverage_at" => {
            targets.sort_by(|a, b| b.last_new_coverage_at.cmp(&a.last_new_coverage_at))
        }
        _ => targets.sort_by(|a, b| (rank(a), &a.name).cmp(&(rank(b), &b.name))),
    }
}

/// Targets running, total execs and execs/s, time fuzzed, the three crash counts (bugs
/// by severity, crashing inputs, crash hits): the same numbers as `/api/v1/status` and
/// `/api/v1/crashes`, each in a data-* attribute.
fn totals_line(status: &StatusDoc, bugs: &[&Bucket], fuzzed_ms: i64) -> String {
    let is_running = |t: &&TargetStatus| t.state == "running";
    let running = status.targets.iter().filter(is_running).count();
    let never = status.targets.iter().filter(|t| never_run(t)).count();
    let execs: i64 = status.targets.iter().map(|t| t.execs).sum();
    let eps: f64 = status
        .targets
        .iter()
        .filter(is_running)
        .map(|t| t.execs_per_sec)
        .sum();
    let crashes: i64 = status.targets.iter().map(|t| t.crashes).sum();
    let inputs: i64 = status.targets.iter().map(|t| t.inputs).sum();
    let mut severity = String::new();
    for s in SEVERITIES {
        let n = bugs
            .iter()
            .filter(|b| b.severity.as_deref() == Some(s))
            .count();
        let _ = write!(severity, " data-bugs-{s}=\"{n}\"");
    }
    format!(
        "<p id=\"totals\" class=\"totals\" data-running=\"{running}\" data-targets=\"{n}\" \
         data-execs=\"{execs}\" data-execs-per-sec=\"{eps}\" data-fuzzed-ms=\"{fuzzed_ms}\" \
         data-crashes=\"{crashes}\" data-inputs=\"{inputs}\" data-bugs=\"{nbugs}\"{severity}>\
         <b>{running}</b> of {n} targets running{never} · <b>{execs_h}</b> execs{eps_h} · \
         {fuzzed} of worker time fuzzed · <a href=\"/crashes\"><b>{bugs_h}</b>{by_sev}</a>, \
         {inputs_h}, <b>{crashes_h}</b></p>",
        n = status.targets.len(),
        nbugs = bugs.len(),
        never = if never > 0 {
            format!(" ({never} never run)")
        } else {
            String::new()
        },
        execs_h = si(execs as f64),
        // Nothing fuzzes now: no "at 0/s"; each row has its last and average rate.
        eps_h = if running > 0 {
            format!(" at <b>{}</b>/s", fmt::rate(eps))
        } else {
            ", none fuzzing now".into()
        },
        fuzzed = fmt::duration(Duration::from_millis(fuzzed_ms.max(0) as u64)),
        inputs_h = plural(inputs, "crashing input", "crashing inputs"),
        crashes_h = plural(crashes, "crash hit", "crash hits"),
        bugs_h = plural(bugs.len() as i64, "bug", "bugs"),
        by_sev = by_severity(bugs),
    )
}

fn overview_row(t: &TargetStatus) -> String {
    let name = esc(&t.name);
    let state = shown_state(t);
    let class = state.replace(' ', "-");
    let schedule = schedule_of(t);
    format!(
        "<tr class=\"target\" data-target=\"{name}\" data-state=\"{state}\">\
         <td><a href=\"/target/{name}\">{name}</a></td>\
         <td data-field=\"state\" class=\"state {class}\">{state}</td>\
         <td data-field=\"schedule\">{schedule}</td>\
         <td {eps_attrs} class=\"num\">{eps}</td>\
         <td data-field=\"coverage\" class=\"num\">{cov}</td>\
         <td class=\"sparkcell\"><div class=\"spark\" data-target=\"{name}\" data-metric=\"coverage\" \
         data-points=\"0\"></div><span class=\"spark-range\"></span></td>\
         <td data-field=\"corpus\" class=\"num\">{files} / {corpus}</td>\
         <td data-field=\"crashes\" class=\"num\">{crashes}</td>\
         <td data-field=\"last_new_coverage_at\">{last}</td></tr>",
        eps_attrs = rate_attrs(t),
        eps = rate_text(t),
        state = esc(state),
        cov = t.coverage.map_or("-".into(), |c| c.to_string()),
        files = t.corpus_files,
        corpus = fmt::bytes(t.corpus_bytes.max(0) as u64),
        crashes = t.crashes,
        last = esc(&t
            .last_new_coverage_at
            .as_deref()
            .map_or("-".into(), short_time)),
    )
}

/// 1234567 → "1.2M": SI steps.
fn si(v: f64) -> String {
    let mut v = v;
    for unit in ["", "K", "M", "G"] {
        if v.abs() < 1000.0 {
            return if unit.is_empty() {
                format!("{v:.0}")
            } else {
                format!("{v:.1}{unit}")
            };
        }
        v /= 1000.0;
    }
    format!("{v:.1}T")
}

/// Every node of the config: reached or not, for how long silent, what it runs. The
/// page reloads itself; the fleet is read at most every few seconds however many watch.
async fn fleet_page(State(app): State<Arc<App>>) -> Response {
    let Some(doc) = app.fleet().await else {
        return error_page(
            &app,
            StatusCode::NOT_FOUND,
            "this server shows its own node only; `fuzzfleet serve --all-nodes` shows the fleet",
        );
    };
    let mut reached = 0;
    let mut body = String::new();
    for n in &doc.nodes {
        let status = n
            .status
            .clone()
            .and_then(|v| serde_json::from_value::<StatusDoc>(v).ok());
        let heartbeat = esc(n.last_heartbeat.as_deref().unwrap_or("-"));
        let name = esc(&n.node);
        match (&n.error, status) {
            (None, Some(s)) => {
                reached += 1;
                let running: Vec<&str> = s
                    .targets
                    .iter()
                    .filter(|t| t.state == "running")
                    .map(|t| t.name.as_str())
                    .collect();
                let _ = write!(
                    body,
                    "<tr class=\"node up\" data-node=\"{name}\"><td>{name}</td>\
                     <td class=\"state running\">up</td><td>{running}</td><td>{workers}</td>\
                     <td>{eps}</td><td>{crashes}</td><td>{heartbeat}</td></tr>",
                    running = esc(&running.join(", ")),
                    workers = s.targets.iter().map(|t| t.workers).sum::<i64>(),
                    eps = fmt::rate(
                        s.targets
                            .iter()
                            .filter(|t| t.state == "running")
                            .map(|t| t.execs_per_sec)
                            .sum::<f64>()
                    ),
                    crashes = s.targets.iter().map(|t| t.crashes).sum::<i64>(),
                );
            }
            (error, _) => {
                let silent = n.unreachable_for_s.map_or(String::new(), |s| {
                    format!(
                        ", no heartbeat for {}",
                        fmt::duration(Duration::from_secs(s.max(0) as u64))
                    )
                });
                let _ = write!(
                    body,
                    "<tr class=\"node down\" data-node=\"{name}\"><td>{name}</td>\
                     <td class=\"state failed\">unreachable{silent}</td>\
                     <td colspan=\"4\" class=\"message\">{error}</td><td>{heartbeat}</td></tr>",
                    error = esc(error.as_deref().unwrap_or("no status document")),
                );
            }
        }
    }
    let body = format!(
        "<h1>Fleet</h1><p class=\"system\">{reached} of {} nodes reached</p>\
         <table id=\"nodes\"><thead><tr><th>node</th><th>state</th><th>targets running</th>\
         <th>workers</th><th>execs/s</th><th>crash hits</th><th>last heartbeat</th></tr></thead>\
         <tbody>{body}</tbody></table>",
        doc.nodes.len()
    );
    let mut page = page(&app, "fleet", "fleet", &body).0;
    // The fleet is not in the script's live updates: the page reloads itself.
    page = page.replacen(
        "<meta charset=\"utf-8\">",
        "<meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">",
        1,
    );
    Html(page).into_response()
}

fn system_line(doc: &StatusDoc) -> String {
    let s = &doc.system;
    format!(
        "<p class=\"system\" id=\"system-line\">cpu {:.0}% · memory {} of {} · disk {:.0}% used{}</p>",
        s.cpu_percent,
        fmt::bytes(s.mem_used_bytes),
        fmt::bytes(s.mem_total_bytes),
        s.disk_used_percent,
        doc.hub.as_ref().map_or(String::new(), |h| format!(
            " · hub {} ({})",
            esc(&h.url),
            esc(&h.state)
        )),
    )
}

/// The campaign's errors, as `status` says them; nothing when it met none.
fn errors_line(doc: &StatusDoc) -> String {
    fmt::errors(doc.errors.as_ref()).map_or(String::new(), |line| {
        format!("<p class=\"errors\" id=\"errors-line\">{}</p>", esc(&line))
    })
}

/// A target: its figures, the charts over a chosen range, its bugs.
async fn target_page(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let Ok(Path(name)) = name else {
        return error_page(&app, StatusCode::BAD_REQUEST, "bad target name");
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let range = query
        .range
        .as_deref()
        .filter(|r| RANGES.contains(r))
        .unwrap_or(RANGES[0]);
    let (status, crashes) = match (app.status().await, app.crashes().await) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(&app, StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
    };
    let Some(t) = status.targets.iter().find(|t| t.name == name) else {
        return error_page(&app, StatusCode::NOT_FOUND, "no such target");
    };
    let n = esc(&t.name);
    let state = shown_state(t);
    let line = match crate::api::coverage_of(&app, &t.name).await {
        Some(c) => format!(
            "<span id=\"line-coverage\" data-reached=\"{r}\" data-whole=\"{w}\">{r:.1} %</span> \
             of the {f} file(s) it reaches ({w:.1} % of the crate's {all})",
            r = c.reached.lines.percent,
            w = c.whole_crate.lines.percent,
            f = c.reached_files,
            all = c.files,
        ),
        None => t.line_coverage.map_or("-".into(), |l| format!("{l:.1} %")),
    };
    let mut body = format!(
        "<h1>Target {n} <span class=\"state {}\" data-field=\"state\">{}</span></h1>",
        state.replace(' ', "-"),
        esc(state)
    );
    if let Some(m) = &t.message {
        let _ = write!(body, "<p class=\"message\">{}</p>", esc(m));
    }
    let _ = write!(
        body,
        "<table id=\"figures\" class=\"figures\"><tr class=\"target\" data-target=\"{n}\">\
         <th>execs/s</th><td {eps_attrs}>{eps}</td>\
         <th>execs</th><td>{execs}</td>\
         <th>coverage</th><td data-field=\"coverage\">{cov}</td>\
         <th>features</th><td>{ft}</td>\
         <th>corpus</th><td data-field=\"corpus\">{files} / {corpus}</td>\
         <th>crash hits</th><td data-field=\"crashes\">{crashes}</td>\
         <th>line coverage</th><td>{line}</td>\
         <th>last new coverage</th><td data-field=\"last_new_coverage_at\">{last}</td>\
         </tr></table><p class=\"facts\">workers {workers} · restarts {restarts} · \
         uptime {uptime} · {schedule}</p>",
        eps_attrs = rate_attrs(t),
        eps = rate_text(t),
        execs = si(t.execs as f64),
        cov = t.coverage.map_or("-".into(), |c| c.to_string()),
        ft = t.features.map_or("-".into(), |f| f.to_string()),
        files = t.corpus_files,
        corpus = fmt::bytes(t.corpus_bytes.max(0) as u64),
        crashes = t.crashes,
        last = esc(&t
            .last_new_coverage_at
            .as_deref()
            .map_or("-".into(), short_time)),
        workers = t.workers,
        restarts = t.restarts,
        uptime = t
            .uptime
            .map_or("-".into(), |u| format!("{:.1}%", u * 100.0)),
        schedule = schedule_of(t),
    );
    body += "<p id=\"ranges\" class=\"ranges\">range: ";
    for r in RANGES {
        let class = if r == range { " class=\"active\"" } else { "" };
        let _ = write!(
            body,
            "<a href=\"?range={r}\"{class} data-range=\"{r}\">{r}</a> "
        );
    }
    body += "<span id=\"window\"></span></p><div class=\"charts\">";
    for (chart, label) in [
        ("execs", "execs per second"),
        ("coverage", "coverage: edges (left) and features (right)"),
        ("corpus", "corpus: files (left) and size (right)"),
        (
            "line_coverage",
            "line coverage of the code the target reaches (llvm-cov)",
        ),
        (
            "crashes",
            "new crashing inputs per bar; a red mark is a new bug",
        ),
    ] {
        let _ = write!(
            body,
            "<figure><figcaption>{label}</figcaption><div class=\"chart\" id=\"chart-{chart}\" \
             data-target=\"{n}\" data-chart=\"{chart}\" data-points=\"0\"></div></figure>"
        );
    }
    body += "</div>";
    body += &strategies_table(t);
    body += "<h2>Bugs</h2>";
    let mine: Vec<&Bucket> = crashes
        .buckets
        .iter()
        .filter(|b| b.target == t.name && b.signature.is_some())
        .collect();
    body += &if mine.is_empty() {
        "<p id=\"crashes\" class=\"empty\">No bugs filed yet.</p>".to_string()
    } else {
        crate::crash_pages::bucket_rows(&mine, false)
    };
    let pending = crashes
        .buckets
        .iter()
        .filter(|b| b.target == t.name && b.signature.is_none())
        .count();
    if pending > 0 {
        let _ = write!(
            body,
            "<p class=\"pending\">{} not triaged yet (<a href=\"/crashes?target={n}\">crashes</a>)</p>",
            plural(pending as i64, "crashing input", "crashing inputs")
        );
    }
    page_with(
        &app,
        "target",
        &t.name,
        &body,
        &format!(" data-range=\"{range}\""),
    )
    .into_response()
}

/// Text safe inside HTML elements and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_is_escaped() {
        assert_eq!(
            super::esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
