//! The JSON API under `/api/v1/`, its OpenAPI document, `/metrics` and `/healthz`.
//! Every failure is a JSON `{"error": …}` with a 4xx/5xx status; nothing panics on input.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::{App, StateError};
use crate::docs::{API_VERSION, BucketDoc, ErrorDoc, FleetDoc, NodeDoc, SeriesDoc};
use crate::series::{self, DEFAULT_WINDOW_MS, MAX_POINTS};

const OPENAPI: &str = include_str!("../assets/openapi.json");

/// Reports are shown up to this size; the file itself stays whole on disk.
const REPORT_MAX_BYTES: u64 = 1 << 20;
/// Crash inputs larger than this are not served (libFuzzer's inputs are far smaller).
const INPUT_MAX_BYTES: u64 = 64 << 20;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/status", get(status))
        .route("/api/v1/node", get(node))
        .route("/api/v1/fleet", get(fleet))
        .route("/api/v1/targets/{name}/series", get(series))
        .route("/api/v1/targets/{name}/coverage", get(coverage))
        .route("/api/v1/crashes", get(crashes))
        .route("/api/v1/crashes/{id}", get(bucket))
        .route("/api/v1/crashes/{id}/input", get(input))
        .route("/api/v1/crashes/{id}/minimized", get(minimized))
}

/// An error response.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    NotFound(String),
    State(StateError),
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        ApiError::State(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, error) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::State(e) => {
                tracing::warn!("request failed: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        };
        (code, axum::Json(ErrorDoc { error })).into_response()
    }
}

type Json<T> = Result<axum::Json<T>, ApiError>;

async fn healthz() -> &'static str {
    "ok\n"
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn status(State(app): State<Arc<App>>) -> Json<fleet_docs::report::StatusDoc> {
    Ok(axum::Json((*app.status().await?).clone()))
}

async fn crashes(State(app): State<Arc<App>>) -> Json<fleet_docs::report::CrashesDoc> {
    Ok(axum::Json((*app.crashes().await?).clone()))
}

async fn node(State(app): State<Arc<App>>) -> Json<NodeDoc> {
    let hub = app.status().await?.hub.clone();
    Ok(axum::Json(NodeDoc {
        version: API_VERSION,
        node: app.node.clone(),
        fuzzfleet_version: env!("CARGO_PKG_VERSION").to_string(),
        cores: app.cores,
        state_dir: app.layout.root().display().to_string(),
        hub,
    }))
}

async fn fleet(State(app): State<Arc<App>>) -> Json<FleetDoc> {
    match app.fleet().await {
        Some(doc) => Ok(axum::Json((*doc).clone())),
        None => Err(ApiError::NotFound(
            "this server shows its own node only; `fuzzfleet serve --all-nodes` shows the fleet"
                .into(),
        )),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let doc = app.status().await?;
    Ok((
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(&doc),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct SeriesQuery {
    since: Option<String>,
}

async fn series(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> Json<SeriesDoc> {
    let name = target_name(name)?;
    let query = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = fleet_store::now_ms();
    let default_window = query.since.as_deref().is_none_or(str::is_empty);
    if default_window && let Some(doc) = app.cached_series(&name) {
        return Ok(axum::Json((*doc).clone()));
    }
    let since = match query.since.as_deref() {
        Some(raw) if !raw.is_empty() => series::parse_since(raw).map_err(ApiError::BadRequest)?,
        _ => now - DEFAULT_WINDOW_MS,
    };
    let until = now.max(since);
    let doc = app
        .with_db(move |app, db| {
            if !app.known.contains(&name) && db.target(&name)?.is_none() {
                return Ok(None);
            }
            // Windows holding a short history from the stored samples, longer ones from
            // the rollup.
            let rollup = app.rollup(db, &name, now)?;
            let rollup = rollup.lock().unwrap_or_else(|e| e.into_inner());
            let history_from = rollup.start_of(since);
            let (points, samples) = if until - history_from <= series::RAW_WINDOW_MS {
                drop(rollup);
                let samples = db.samples(&name, since)?;
                let n = samples.len();
                (series::downsample(&samples, since, until, MAX_POINTS), n)
            } else {
                rollup.points(since, until, now, MAX_POINTS)
            };
            let index = app.findings_index(db)?;
            let mine = index.targets.get(&name);
            // Bars as wide as the history in the window asks for, not the window: "all"
            // (since 0) of a three-day campaign has bars of hours, not one of 30 days.
            let first_input = mine.and_then(|m| {
                m.inputs
                    .get(m.inputs.partition_point(|&t| t < since))
                    .copied()
            });
            let bin_ms =
                series::bin_width(history_from.min(first_input.unwrap_or(i64::MAX)), until);
            let bugs = mine.map_or_else(Vec::new, |m| {
                m.bugs
                    .iter()
                    .filter(|b| b.t >= since && b.t <= until)
                    .cloned()
                    .collect()
            });
            let crash_bins = mine.map_or_else(Vec::new, |m| {
                series::count_bins(&m.inputs, since, until, bin_ms)
            });
            let line_coverage = db
                .coverage_history(&name, since)?
                .into_iter()
                .filter_map(|c| {
                    Some(crate::docs::LineCoveragePoint {
                        t: c.at_ms,
                        percent: (c.line_percent()? * 100.0).round() / 100.0,
                        lines_covered: c.lines_covered,
                        lines_total: c.lines_total,
                    })
                })
                .collect();
            Ok(Some(SeriesDoc {
                line_coverage,
                version: API_VERSION,
                points,
                samples,
                since: fleet_store::rfc3339(since),
                until: fleet_store::rfc3339(until),
                history_from: fleet_store::rfc3339(history_from),
                target: name,
                bugs,
                bin_ms,
                crash_bins,
            }))
        })
        .await?;
    let doc = doc.ok_or_else(|| ApiError::NotFound("no such target".into()))?;
    if default_window {
        app.keep_series(std::sync::Arc::new(doc.clone()));
    }
    Ok(axum::Json(doc))
}

async fn coverage(
    State(app): State<Arc<App>>,
    name: Result<Path<String>, PathRejection>,
) -> Json<crate::docs::CoverageDoc> {
    let name = target_name(name)?;
    coverage_of(&app, &name)
        .await
        .map(axum::Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no coverage computed for {name} (`fuzzfleet coverage {name}`)"
            ))
        })
}

/// The newest coverage report of `target` (`<state>/coverage/<target>/coverage.json`).
pub async fn coverage_of(app: &App, target: &str) -> Option<crate::docs::CoverageDoc> {
    let path = app
        .layout
        .root()
        .join("coverage")
        .join(target)
        .join("coverage.json");
    let path = inside_state(app, path.to_str()?)?;
    let target = target.to_string();
    tokio::task::spawn_blocking(move || {
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > 64 << 20 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let at = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as i64;
        let summary = |s: &serde_json::Value| {
            let count = |c: &serde_json::Value| {
                let covered = c["covered"].as_u64().unwrap_or(0);
                let total = c["total"].as_u64().unwrap_or(0);
                crate::docs::CoverageCount {
                    covered,
                    total,
                    percent: if total == 0 {
                        0.0
                    } else {
                        (covered as f64 * 1000.0 / total as f64).round() / 10.0
                    },
                }
            };
            crate::docs::CoverageSummary {
                lines: count(&s["lines"]),
                regions: count(&s["regions"]),
                functions: count(&s["functions"]),
            }
        };
        Some(crate::docs::CoverageDoc {
            version: API_VERSION,
            target,
            computed_at: fleet_store::rfc3339(at),
            inputs: v["replay"]["inputs"].as_u64().unwrap_or(0),
            files: v["files"].as_array().map_or(0, Vec::len),
            reached_files: v["reached_files"].as_u64().unwrap_or(0) as usize,
            reached: summary(&v["reached"]),
            whole_crate: summary(&v["totals"]),
        })
    })
    .await
    .ok()
    .flatten()
}

async fn bucket(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Json<BucketDoc> {
    let bucket = find_bucket(&app, id).await?;
    let report = report_of(&app, &bucket).await;
    Ok(axum::Json(BucketDoc {
        version: API_VERSION,
        bucket,
        report,
    }))
}

async fn input(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let bucket = find_bucket(&app, id).await?;
    let path = bucket.input_path.clone();
    download(&app, &bucket, &path, "").await
}

async fn minimized(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let bucket = find_bucket(&app, id).await?;
    let path = bucket.minimized_path.clone().unwrap_or_default();
    download(&app, &bucket, &path, "-minimized").await
}

/// A file of the bucket as an attachment named `<kind>-<id><suffix>`.
async fn download(
    app: &App,
    bucket: &fleet_docs::report::Bucket,
    path: &str,
    suffix: &str,
) -> Result<Response, ApiError> {
    let gone = || ApiError::NotFound(format!("that input of {} is not on disk", bucket.id));
    let path = inside_state(app, path).ok_or_else(gone)?;
    let meta = tokio::fs::metadata(&path).await.map_err(|_| gone())?;
    if !meta.is_file() || meta.len() > INPUT_MAX_BYTES {
        return Err(gone());
    }
    let bytes = tokio::fs::read(&path).await.map_err(|_| gone())?;
    let disposition = format!(
        "attachment; filename=\"{}-{}{suffix}\"",
        bucket.kind, bucket.id
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// The bucket's report text, if it has one inside the state dir.
pub async fn report_of(app: &App, bucket: &fleet_docs::report::Bucket) -> Option<String> {
    let path = inside_state(app, bucket.report_path.as_deref()?)?;
    tokio::task::spawn_blocking(move || read_report(&path))
        .await
        .ok()
        .flatten()
}

/// A target name as the config allows them; anything else cannot name a target.
fn target_name(raw: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = raw.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !name.starts_with('.');
    if ok {
        Ok(name)
    } else {
        Err(ApiError::NotFound("no such target".into()))
    }
}

/// A bucket by id: ids are lowercase hex, anything else is no bucket.
async fn find_bucket(
    app: &Arc<App>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<fleet_docs::report::Bucket, ApiError> {
    let Path(id) = raw.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let valid = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit());
    let none = || ApiError::NotFound("no such bucket".into());
    if !valid {
        return Err(none());
    }
    let id = id.to_ascii_lowercase();
    app.crashes()
        .await?
        .buckets
        .iter()
        .find(|b| b.id == id)
        .cloned()
        .ok_or_else(none)
}

/// The path, if it names a file inside the state dir (paths come from the database, which
/// other nodes' findings also fill: never follow one out of the state dir).
pub fn inside_state(app: &App, path: &str) -> Option<PathBuf> {
    let root = app.layout.root().canonicalize().ok()?;
    let path = std::path::Path::new(path);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        app.layout.root().join(path)
    };
    let real = path.canonicalize().ok()?;
    real.starts_with(&root).then_some(real)
}

fn read_report(path: &std::path::Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(REPORT_MAX_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}
