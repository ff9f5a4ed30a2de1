//! The crashes page (`/crashes`: every bucket, filtered by target, severity and state)
//! and the bucket page (`/bucket/{id}`: what a developer needs to fix the bug: report,
//! commands to paste, a look at the input, its history). Both only read: merging and
//! splitting are shown as the CLI commands that do them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fleet_docs::report::Bucket;
use serde::Deserialize;

use crate::app::App;
use crate::dashboard::{error_page, esc, page};

/// Severities, most severe first (the order of the filters and the totals).
pub const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// Bucket states a filter can ask for; `pending` is a finding triage has not filed yet.
const STATES: [&str; 4] = ["open", "regressed", "fixed", "pending"];

/// Bytes of the input shown as hex and ASCII.
const PREVIEW_BYTES: usize = 512;

#[derive(Debug, Default, Deserialize)]
pub struct CrashFilter {
    target: Option<String>,
    severity: Option<String>,
    state: Option<String>,
}

impl CrashFilter {
    fn wants(&self, b: &Bucket) -> bool {
        let is = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w.is_empty() || w == have)
        };
        is(&self.target, &b.target)
            && is(&self.severity, b.severity.as_deref().unwrap_or("-"))
            && is(&self.state, state_of(b))
    }
}

/// `open`, `fixed`, `regressed`, or `pending` for a finding not triaged yet.
pub fn state_of(b: &Bucket) -> &str {
    match (&b.signature, &b.state) {
        (None, _) => "pending",
        (Some(_), Some(s)) => s,
        (Some(_), None) => "open",
    }
}

pub async fn crashes_page(
    State(app): State<Arc<App>>,
    filter: Result<Query<CrashFilter>, QueryRejection>,
) -> Response {
    let filter = filter.map(|Query(f)| f).unwrap_or_default();
    let (status, crashes) = match (app.status().await, app.crashes().await) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(&app, StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
    };
    let all = &crashes.buckets;
    let bugs: Vec<&Bucket> = all.iter().filter(|b| b.signature.is_some()).collect();
    let pending: Vec<&Bucket> = all.iter().filter(|b| b.signature.is_none()).collect();
    let mut body = String::from("<h1>Crashes</h1>");
    let _ = write!(
        body,
        "<p id=\"crash-totals\" class=\"totals\" data-bugs=\"{}\" data-crashes=\"{}\" \
         data-pending=\"{}\">{} · {} · {} not triaged yet</p>",
        bugs.len(),
        all.iter().map(|b| b.count).sum::<i64>(),
        pending.len(),
        plural(bugs.len() as i64, "bug", "bugs") + &by_severity(&bugs),
        plural(all.iter().map(|b| b.count).sum(), "crash hit", "crash hits"),
        plural(pending.len() as i64, "crashing input", "crashing inputs"),
    );

    // Filters: a plain GET form (the script submits it on change).
    let mut targets: BTreeSet<&str> = status.targets.iter().map(|t| t.name.as_str()).collect();
    targets.extend(all.iter().map(|b| b.target.as_str()));
    body += "<form id=\"filters\" method=\"get\" action=\"/crashes\" class=\"filters\">";
    body += &select("target", targets.into_iter(), filter.target.as_deref());
    body += &select(
        "severity",
        SEVERITIES.into_iter(),
        filter.severity.as_deref(),
    );
    body += &select("state", STATES.into_iter(), filter.state.as_deref());
    body += "<button type=\"submit\">filter</button> <a href=\"/crashes\">clear</a></form>";

    let shown: Vec<&Bucket> = bugs.iter().copied().filter(|b| filter.wants(b)).collect();
    if bugs.is_empty() {
        body += "<p id=\"crashes\" class=\"empty\">No bugs filed yet.</p>";
    } else if shown.is_empty() {
        body += "<p id=\"crashes\" class=\"empty\">No bug matches these filters.</p>";
    } else {
        body += &bucket_rows(&shown, true);
    }
    // Findings triage has not filed yet: one line per target (`crashes list` does the same).
    let mut waiting: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
    for b in pending.iter().filter(|b| filter.wants(b)) {
        let e = waiting.entry(&b.target).or_default();
        e.0 += 1;
        e.1 += b.count;
    }
    if !waiting.is_empty() {
        body += "<h2>Not triaged yet</h2><ul id=\"pending\">";
        for (target, (n, hits)) in waiting {
            let _ = write!(
                body,
                "<li data-target=\"{t}\"><a href=\"/target/{t}\">{t}</a>: {} ({}); \
                 <code>fuzzfleet crashes triage</code> files them now</li>",
                plural(n as i64, "crashing input", "crashing inputs"),
                plural(hits, "crash hit", "crash hits"),
                t = esc(target),
            );
        }
        body += "</ul>";
    }
    page(&app, "crashes", "crashes", &body).into_response()
}

/// The bucket table of the crashes and target pages: a row per bug.
pub fn bucket_rows(buckets: &[&Bucket], with_target: bool) -> String {
    let mut out = String::from("<table id=\"crashes\" class=\"buckets\"><thead><tr><th>id</th>");
    if with_target {
        out += "<th>target</th>";
    }
    out += "<th>severity</th><th>kind</th><th>repro</th><th>state</th><th>crash hits</th>\
            <th>first seen</th><th>last seen</th><th>nodes</th><th>title</th></tr></thead><tbody>";
    for b in buckets {
        let sev = b.severity.as_deref().unwrap_or("-");
        let state = state_of(b);
        let _ = write!(
            out,
            "<tr class=\"bucket\" data-id=\"{id}\" data-target=\"{target}\" data-severity=\"{sev}\" \
             data-state=\"{state}\"><td><a class=\"bucket-link\" href=\"/bucket/{id}\">{id}</a></td>",
            id = esc(&b.id),
            target = esc(&b.target),
            sev = esc(sev),
            state = esc(state),
        );
        if with_target {
            let _ = write!(
                out,
                "<td><a href=\"/target/{0}\">{0}</a></td>",
                esc(&b.target)
            );
        }
        let _ = write!(
            out,
            "<td class=\"sev {sev}\">{sev}</td><td>{kind}</td><td>{repro}</td>\
             <td class=\"bstate {state}\">{state}</td><td class=\"num\">{count}</td>\
             <td>{first}</td><td>{last}</td><td>{nodes}</td><td>{title}</td></tr>",
            sev = esc(sev),
            kind = esc(&b.kind),
            repro = esc(&b.repro),
            state = esc(state),
            count = b.count,
            first = esc(&short_time(&b.first_seen)),
            last = esc(&short_time(&b.last_seen)),
            nodes = esc(&b.nodes.join(", ")),
            title = esc(&b.title),
        );
    }
    out + "</tbody></table>"
}

/// ` (1 critical, 2 low)`: the bugs by severity, most severe first; empty when none.
pub fn by_severity(bugs: &[&Bucket]) -> String {
    let parts: Vec<String> = SEVERITIES
        .iter()
        .filter_map(|s| {
            let n = bugs
                .iter()
                .filter(|b| b.severity.as_deref() == Some(s))
                .count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn select<'a>(name: &str, options: impl Iterator<Item = &'a str>, chosen: Option<&str>) -> String {
    let mut out = format!("<label>{name} <select name=\"{name}\"><option value=\"\">all</option>");
    for o in options {
        let selected = if chosen == Some(o) { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{selected}>{0}</option>", esc(o));
    }
    out + "</select></label> "
}

/// `1 bug`, `2 bugs`.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `2026-12-06T18:45:47Z` → `2026-12-06 18:45:47`.
pub fn short_time(rfc: &str) -> String {
    rfc.replacen('T', " ", 1).trim_end_matches('Z').to_string()
}

pub async fn bucket_page(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return error_page(&app, StatusCode::BAD_REQUEST, "bad bucket id");
    };
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return error_page(&app, StatusCode::NOT_FOUND, "no such bucket");
    }
    let crashes = match app.crashes().await {
        Ok(c) => c,
        Err(e) => return error_page(&app, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let Some(b) = crashes.buckets.iter().find(|b| b.id == id).cloned() else {
        return error_page(&app, StatusCode::NOT_FOUND, "no such bucket");
    };
    let report = crate::api::report_of(&app, &b)
        .await
        .unwrap_or_else(|| "(no report was captured)".into());
    let bid = b.id.clone();
    let history = app
        .with_db(move |_, db| {
            Ok(db
                .findings()?
                .into_iter()
                .filter(|f| fleet_docs::report::finding_bucket_id(f) == bid)
                .map(|f| (f.first_seen, f.count))
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default();
    let input = crate::api::inside_state(&app, &b.input_path);
    let minimized = b
        .minimized_path
        .as_deref()
        .and_then(|p| crate::api::inside_state(&app, p));
    let shown = minimized.clone().or(input.clone());
    let preview = match &shown {
        Some(p) => {
            let p = p.clone();
            tokio::task::spawn_blocking(move || head(&p))
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    let size = |p: &Option<PathBuf>| {
        p.as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
    };

    let id = esc(&b.id);
    let mut body = format!(
        "<h1>Bug {id}</h1><p class=\"title\" id=\"title\">{}</p>",
        esc(&b.title)
    );
    body += "<table id=\"facts\" class=\"facts\">";
    let state = format!(
        "<span id=\"bucket-state\" class=\"bstate {0}\" data-state=\"{0}\" data-build=\"{1}\">{2}</span>",
        esc(state_of(&b)),
        esc(b.state_build.as_deref().unwrap_or("")),
        match (state_of(&b), &b.state_build) {
            ("pending", _) => "not triaged yet".to_string(),
            (s @ ("fixed" | "regressed"), Some(build)) => {
                format!(
                    "{} in build {}",
                    esc(s),
                    esc(&build.chars().take(12).collect::<String>())
                )
            }
            (s, _) => esc(s),
        }
    );
    for (k, v) in [
        (
            "target",
            format!("<a href=\"/target/{0}\">{0}</a>", esc(&b.target)),
        ),
        ("severity", esc(b.severity.as_deref().unwrap_or("-"))),
        ("kind", esc(&b.kind)),
        ("reproduces", esc(&b.repro)),
        ("state", state),
        ("crash hits", b.count.to_string()),
        ("first seen", esc(&short_time(&b.first_seen))),
        ("last seen", esc(&short_time(&b.last_seen))),
        ("nodes", esc(&b.nodes.join(", "))),
        (
            "signature",
            format!(
                "<code id=\"signature\">{}</code>",
                esc(b.signature.as_deref().unwrap_or("- (not triaged yet)"))
            ),
        ),
    ] {
        let _ = write!(body, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    body += "</table>";

    // Commands to paste: fuzzfleet's, and libFuzzer's own on the same input.
    let fuzzfleet = app.extras.fuzzfleet.as_deref().unwrap_or("fuzzfleet");
    let binary = app
        .extras
        .binaries
        .get(&b.target)
        .map(|p| shell_word(&p.display().to_string()))
        .unwrap_or_else(|| format!("<{}'s binary>", b.target));
    let on = shown
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| b.input_path.clone());
    body += "<h2>Reproduce</h2><pre id=\"repro\" class=\"commands\">";
    let _ = writeln!(
        body,
        "{}",
        esc(&format!("{fuzzfleet} crashes repro {}", b.id))
    );
    let _ = writeln!(body, "{}", esc(&format!("{binary} {}", shell_word(&on))));
    body += "</pre>";

    body += "<h2>Input</h2><p id=\"input-facts\">";
    let _ = write!(
        body,
        "input: {} · minimized: {} · <a id=\"download\" href=\"/api/v1/crashes/{id}/input\" \
         download>download the input</a>",
        size(&input).map_or("not on disk".into(), |n| format!(
            "<span id=\"input-size\" data-bytes=\"{n}\">{}</span>",
            fleet_docs::fmt::bytes(n)
        )),
        match size(&minimized) {
            Some(n) => format!(
                "<span id=\"minimized-size\" data-bytes=\"{n}\">{}</span> \
                 (<a id=\"download-minimized\" href=\"/api/v1/crashes/{id}/minimized\" download>\
                 download</a>)",
                fleet_docs::fmt::bytes(n)
            ),
            None => format!(
                "<span id=\"not-minimized\" data-minimize-result=\"{}\">{}</span>",
                esc(b.minimize_result.as_deref().unwrap_or("")),
                not_minimized(&b)
            ),
        },
    );
    body += "</p>";
    if let Some((bytes_shown, total, dump)) = preview {
        let _ = write!(
            body,
            "<p class=\"caption\">the {} input, {}:</p><pre id=\"hexdump\">{}</pre>",
            if minimized.is_some() {
                "minimized"
            } else {
                "crashing"
            },
            if (bytes_shown as u64) < total {
                format!("its first {bytes_shown} of {total} bytes")
            } else {
                format!("all {total} bytes")
            },
            esc(&dump)
        );
    }

    body += "<h2>History</h2>";
    body += &history_table(&history);

    body += "<h2>Report</h2>";
    let _ = write!(body, "<pre id=\"report\">{}</pre>", esc(&report));

    body += "<h2>Change it (from the command line)</h2><p>The dashboard only reads; these \
             commands change how crashes are grouped:</p><pre id=\"actions\" class=\"commands\">";
    for (cmd, why) in [
        (
            format!("{fuzzfleet} crashes merge {} INTO", b.id),
            "one bug with bucket INTO, also for later crashes",
        ),
        (
            format!("{fuzzfleet} crashes split {}", b.id),
            "undo a merge, or split its crashes by crash line",
        ),
        (
            format!("{fuzzfleet} crashes minimize {}", b.id),
            "minimize its input again",
        ),
    ] {
        let _ = writeln!(body, "{}    # {}", esc(&cmd), esc(why));
    }
    body += "</pre>";
    page(&app, "bucket", &b.id, &body).into_response()
}

/// Why a bug has no minimized input, as `crashes show` says it: its input does not
/// reproduce, or did not crash when minimization ran it, or minimization has not run.
fn not_minimized(b: &Bucket) -> String {
    if b.repro == "never" {
        "no: the input does not reproduce with this build".into()
    } else if b.minimize_did_not_crash() {
        format!(
            "no: its input did not crash when minimization ran it (reproduces: {})",
            esc(&b.repro)
        )
    } else {
        "not yet".into()
    }
}

/// New crashing inputs per day and the crash hits they account for (every hit of each
/// input is counted on the day it was first seen).
fn history_table(history: &[(i64, i64)]) -> String {
    let mut days: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for (t, count) in history {
        let day = fleet_store::rfc3339(*t)
            .chars()
            .take(10)
            .collect::<String>();
        let e = days.entry(day).or_default();
        e.0 += 1;
        e.1 += count;
    }
    if days.is_empty() {
        return "<p id=\"history\" class=\"empty\">No findings recorded.</p>".into();
    }
    let max = days.values().map(|d| d.1).max().unwrap_or(1).max(1);
    let mut out = String::from(
        "<table id=\"history\"><thead><tr><th>day (UTC)</th><th>new crashing inputs</th>\
         <th>crash hits</th><th></th></tr></thead><tbody>",
    );
    for (day, (inputs, hits)) in days.iter().rev() {
        let _ = write!(
            out,
            "<tr data-day=\"{day}\" data-crashes=\"{hits}\"><td>{day}</td><td class=\"num\">{inputs}</td>\
             <td class=\"num\">{hits}</td><td><span class=\"bar\" style=\"width:{w}px\"></span></td></tr>",
            w = (hits * 200 / max).max(1),
        );
    }
    out + "</tbody></table>"
}

/// A hex and ASCII dump of the start of `path`: (bytes shown, file size, text).
fn head(path: &std::path::Path) -> Option<(usize, u64, String)> {
    let file = std::fs::File::open(path).ok()?;
    let total = file.metadata().ok()?.len();
    let mut buf = Vec::with_capacity(PREVIEW_BYTES);
    file.take(PREVIEW_BYTES as u64).read_to_end(&mut buf).ok()?;
    Some((buf.len(), total, hexdump(&buf)))
}

/// `00000000  61 62 0a …  |ab.|`, 16 bytes a line.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out += "   ",
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out += " |";
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out += "|\n";
    }
    out
}

/// A path as one shell word: as is when plain, else single-quoted.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_shows_offsets_hex_and_printable_ascii() {
        let d = hexdump(b"FUZZ\x00\xffabcdefghijklmnop");
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("00000000  46 55 5a 5a 00 ff 61 62  63 "),
            "{d}"
        );
        assert!(lines[0].ends_with("|FUZZ..abcdefghij|"), "{d}");
        assert!(lines[1].starts_with("00000010  6b 6c"), "{d}");
        assert!(lines[1].ends_with("|klmnop|"), "{d}");
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("/a/b-c_d.e"), "/a/b-c_d.e");
        assert_eq!(shell_word("/a b/it's"), "'/a b/it'\\''s'");
    }
}
