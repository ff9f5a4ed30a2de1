//! The web dashboard: server-rendered pages (the node, a target, a bucket) that a small
//! built-in script refreshes and decorates with SVG plots from the series API. Nothing
//! is loaded from outside the binary.

use std::fmt::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use fleet_run::report::{Bucket, StatusDoc, TargetStatus};

use crate::app::App;

const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(node_page))
        .route("/fleet", get(fleet_page))
        .route("/target/{name}", get(target_page))
        .route("/crashes", get(crate::crash_pages::crashes_page))
        .route("/bucket/{id}", get(crate::crash_pages::bucket_page))
        .route("/assets/app.js", get(script))
        .route("/assets/style.css", get(style))
        .fallback(not_found)
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
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
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · fuzzfleet</title><link rel=\"stylesheet\" href=\"/assets/style.css\">\
         </head><body data-page=\"{kind}\">\
         <header><a href=\"/\">fuzzfleet</a> · node <b>{node}</b> · \
         <a href=\"/crashes\">crashes</a>{fleet}\
         <span id=\"system\"></span><span id=\"updated\"></span></header>\
         <main>{body}</main><script src=\"/assets/app.js\"></script></body></html>\n",
        title = esc(title),
        node = esc(&app.node),
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

async fn node_page(State(app): State<Arc<App>>) -> Response {
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
    let mut body = String::from("<h1>Targets</h1>");
    body += &system_line(&status);
    body += "<table id=\"targets\"><thead><tr><th>target</th><th>state</th>\
             <th>execs/s</th><th>coverage</th><th>corpus</th><th>crashes</th>\
             <th>last new coverage</th><th>execs/s</th><th>coverage</th><th>corpus</th>\
             </tr></thead><tbody>";
    for t in &status.targets {
        body += &target_row(t);
    }
    let bugs: Vec<&Bucket> = crashes
        .buckets
        .iter()
        .filter(|b| b.signature.is_some())
        .collect();
    let _ = write!(
        body,
        "</tbody></table><h2>Bugs <a class=\"more\" href=\"/crashes\">all crashes</a></h2>"
    );
    body += &if bugs.is_empty() {
        "<p id=\"crashes\" class=\"empty\">No bugs filed yet.</p>".to_string()
    } else {
        crate::crash_pages::bucket_rows(&bugs, true)
    };
    page(&app, "node", "node", &body).into_response()
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
                     <td>{eps:.0}</td><td>{crashes}</td><td>{heartbeat}</td></tr>",
                    running = esc(&running.join(", ")),
                    workers = s.targets.iter().map(|t| t.workers).sum::<i64>(),
                    eps = s.targets.iter().map(|t| t.execs_per_sec).sum::<f64>(),
                    crashes = s.targets.iter().map(|t| t.crashes).sum::<i64>(),
                );
            }
            (error, _) => {
                let silent = n.unreachable_for_s.map_or(String::new(), |s| {
                    format!(", no heartbeat for {}", duration(s))
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
         <th>workers</th><th>execs/s</th><th>crashes</th><th>last heartbeat</th></tr></thead>\
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

/// `1h 2m`, `3m 4s`, `5s`.
fn duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
    }
}

fn system_line(doc: &StatusDoc) -> String {
    let s = &doc.system;
    format!(
        "<p class=\"system\">cpu {:.0}% · memory {} of {} · disk {:.0}% used{}</p>",
        s.cpu_percent,
        bytes(s.mem_used_bytes as i64),
        bytes(s.mem_total_bytes as i64),
        s.disk_used_percent,
        doc.hub.as_ref().map_or(String::new(), |h| format!(
            " · hub {} ({})",
            esc(&h.url),
            esc(&h.state)
        )),
    )
}

fn target_row(t: &TargetStatus) -> String {
    let name = esc(&t.name);
    let plot = |metric: &str| {
        format!(
            "<td><svg class=\"plot small\" viewBox=\"0 0 160 36\" data-target=\"{name}\" \
             data-metric=\"{metric}\" data-points=\"0\"></svg></td>"
        )
    };
    format!(
        "<tr class=\"target\" data-target=\"{name}\"><td><a href=\"/target/{name}\">{name}</a></td>\
         <td data-field=\"state\" class=\"state {state}\">{state}</td>\
         <td data-field=\"execs_per_sec\">{eps:.0}</td><td data-field=\"coverage\">{cov}</td>\
         <td data-field=\"corpus\">{files} / {corpus}</td><td data-field=\"crashes\">{crashes}</td>\
         <td data-field=\"last_new_coverage_at\">{last}</td>{p1}{p2}{p3}</tr>",
        state = esc(&t.state),
        eps = t.execs_per_sec,
        cov = t.coverage.map_or("-".into(), |c| c.to_string()),
        files = t.corpus_files,
        corpus = bytes(t.corpus_bytes),
        crashes = t.crashes,
        last = esc(t.last_new_coverage_at.as_deref().unwrap_or("-")),
        p1 = plot("execs_per_sec"),
        p2 = plot("coverage"),
        p3 = plot("corpus_files"),
    )
}

async fn target_page(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Ok(Path(name)) = name else {
        return error_page(&app, StatusCode::BAD_REQUEST, "bad target name");
    };
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
    let mut body = format!("<h1>Target {n}</h1>");
    body += "<table id=\"targets\"><thead><tr><th>target</th><th>state</th>\
             <th>execs/s</th><th>coverage</th><th>corpus</th><th>crashes</th>\
             <th>last new coverage</th><th>execs/s</th><th>coverage</th><th>corpus</th>\
             </tr></thead><tbody>";
    body += &target_row(t);
    body += "</tbody></table>";
    if let Some(m) = &t.message {
        let _ = write!(body, "<p class=\"message\">{}</p>", esc(m));
    }
    let _ = write!(
        body,
        "<p class=\"facts\">workers {} · execs {} · features {} · restarts {} · uptime {}</p>",
        t.workers,
        t.execs,
        t.features.map_or("-".into(), |f| f.to_string()),
        t.restarts,
        t.uptime
            .map_or("-".into(), |u| format!("{:.1}%", u * 100.0)),
    );
    body += "<div class=\"plots\">";
    for (metric, label) in [
        ("execs_per_sec", "execs/s"),
        ("coverage", "coverage"),
        ("features", "features"),
        ("corpus_files", "corpus files"),
        ("line_coverage", "line coverage % (llvm-cov)"),
    ] {
        let _ = write!(
            body,
            "<figure><figcaption>{label} <span class=\"last\"></span></figcaption>\
             <svg class=\"plot large\" viewBox=\"0 0 480 140\" data-target=\"{n}\" \
             data-metric=\"{metric}\" data-points=\"0\"></svg></figure>"
        );
    }
    body += "</div><h2>Bugs</h2>";
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
            crate::crash_pages::plural(pending as i64, "finding", "findings")
        );
    }
    page(&app, "target", &t.name, &body).into_response()
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

/// 1536 → "1.5K": binary units, one decimal.
pub fn bytes(n: i64) -> String {
    let mut v = n as f64;
    for unit in ["B", "K", "M", "G"] {
        if v < 1024.0 {
            return if unit == "B" {
                format!("{n}B")
            } else {
                format!("{v:.1}{unit}")
            };
        }
        v /= 1024.0;
    }
    format!("{v:.1}T")
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

    #[test]
    fn sizes_read_well() {
        assert_eq!(super::bytes(512), "512B");
        assert_eq!(super::bytes(1536), "1.5K");
    }
}
