//! The API's own documents (series, coverage, bucket, node, fleet, errors), shared by
//! the server, the client and the live view. `status` and `crashes` are the contract's
//! documents of [`crate::report`], unchanged.

use serde::{Deserialize, Serialize};

pub use crate::hub::HubStatus;
pub use crate::report::{Bucket, CrashesDoc, StatusDoc, TargetStatus};

/// Version of the API's own documents (series, bucket, node).
pub const API_VERSION: u32 = 1;

/// `GET /api/v1/targets/{name}/series`: a target's history, at most
/// the server's `MAX_POINTS` points, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeriesDoc {
    pub version: u32,
    pub target: String,
    /// The window asked for (RFC 3339 UTC).
    pub since: String,
    pub until: String,
    /// Where the target's stored history starts in the window: `since`, or its first
    /// sample when the target is younger than the window (RFC 3339 UTC).
    #[serde(default)]
    pub history_from: String,
    /// How many stored samples the points summarize.
    pub samples: usize,
    pub points: Vec<SeriesPoint>,
    /// Bugs first seen in the window: one mark per bucket, at its first finding.
    #[serde(default)]
    pub bugs: Vec<CrashMark>,
    /// Width of each crash-count bar, in milliseconds (a round interval: 1 min … 30 days).
    #[serde(default)]
    pub bin_ms: i64,
    /// New crashing inputs per bar (only bars with any), however many findings there are.
    #[serde(default)]
    pub crash_bins: Vec<CrashBin>,
    /// Source-based line coverage of the code under test, one point per computation in
    /// the window (`fuzzfleet coverage`, or a campaign's `[coverage] every`).
    #[serde(default)]
    pub line_coverage: Vec<LineCoveragePoint>,
}

/// One coverage computation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineCoveragePoint {
    /// Milliseconds since the Unix epoch when it was computed.
    pub t: i64,
    /// Lines covered, in percent of the lines of the code under test.
    pub percent: f64,
    pub lines_covered: i64,
    pub lines_total: i64,
}

/// One point: counters keep the maximum of the samples it folds, rates their mean.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeriesPoint {
    /// Milliseconds since the Unix epoch (UTC) of the newest sample folded in.
    pub t: i64,
    pub workers: i64,
    pub execs: i64,
    pub execs_per_sec: f64,
    pub coverage: Option<i64>,
    pub features: Option<i64>,
    pub corpus_files: Option<i64>,
    pub corpus_bytes: Option<i64>,
}

/// New crashing inputs in one bar of a series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrashBin {
    /// The bar's start, milliseconds since the Unix epoch (aligned to its width).
    pub t: i64,
    /// Distinct crashing inputs first seen in it.
    pub inputs: i64,
}

/// A bug on the time axis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrashMark {
    /// Milliseconds since the Unix epoch when it was first seen.
    pub t: i64,
    /// Its bucket (or, not triaged yet, the finding's own entry).
    pub id: String,
    pub kind: String,
}

/// `GET /api/v1/targets/{name}/coverage`: the newest source-based coverage computation
/// (`fuzzfleet coverage`) of a target, over the files it reaches and over the whole crate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageDoc {
    pub version: u32,
    pub target: String,
    /// When it was computed (RFC 3339 UTC).
    pub computed_at: String,
    /// Corpus inputs replayed.
    pub inputs: u64,
    /// Files of the code under test, and how many of them the target reaches.
    pub files: usize,
    pub reached_files: usize,
    /// Over the files the target reaches: the figure `status` and the plots show.
    pub reached: CoverageSummary,
    /// Over every file of the code under test.
    pub whole_crate: CoverageSummary,
}

/// Lines, regions and functions: covered of total, and percent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    pub lines: CoverageCount,
    pub regions: CoverageCount,
    pub functions: CoverageCount,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageCount {
    pub covered: u64,
    pub total: u64,
    pub percent: f64,
}

/// `GET /api/v1/crashes/{id}`: the bucket with its report text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketDoc {
    pub version: u32,
    #[serde(flatten)]
    pub bucket: Bucket,
    /// The captured report, when there is one (cut at 1 MiB).
    pub report: Option<String>,
}

/// `GET /api/v1/node`: who is serving.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeDoc {
    pub version: u32,
    pub node: String,
    pub fuzzfleet_version: String,
    pub cores: usize,
    pub state_dir: String,
    pub hub: Option<HubStatus>,
}

/// Every error response: `{"error": "…"}` with a 4xx/5xx status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDoc {
    pub error: String,
}

/// `GET /api/v1/fleet`, on a server started with `fuzzfleet serve --all-nodes`: every
/// node of the config as `fuzzfleet status --all-nodes --json` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetDoc {
    pub version: u32,
    pub nodes: Vec<FleetNode>,
}

/// One node of the fleet: its status when it answered, else why not and since when it
/// has been silent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetNode {
    pub node: String,
    /// Where its API was read (an SSH tunnel's local end, or the configured URL).
    pub url: String,
    /// Its `/api/v1/status` document, as it sent it.
    pub status: Option<serde_json::Value>,
    /// Why it could not be read; `None` when it answered.
    pub error: Option<String>,
    /// Its last heartbeat in the hub (RFC 3339 UTC), when there is a hub.
    pub last_heartbeat: Option<String>,
    /// Seconds since that heartbeat, for a node that did not answer.
    pub unreachable_for_s: Option<i64>,
}
