//! The contract's JSON documents built from the state: `status --json` and
//! `crashes list --json`. Every view (the CLI, the API, the dashboard, the live view)
//! serves and reads these same types. Reading is tolerant: unknown fields are ignored
//! and missing ones default, so a view shows what it can of an older or newer node.

use std::collections::BTreeMap;

use fleet_store::{Db, FindingRecord, StoreError, TargetRecord, rfc3339, sha1_hex};
use serde::{Deserialize, Serialize};

use crate::system::SystemStatus;

/// Version of both documents' shape.
pub const DOC_VERSION: u32 = 1;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusDoc {
    pub version: u32,
    pub targets: Vec<TargetStatus>,
    pub system: SystemStatus,
    /// The hub's health when the config has one (`state`: ok, degraded, error).
    pub hub: Option<crate::hub::HubStatus>,
    /// The resource guard: memory limit mechanism, disk pause, active alerts (null
    /// before any campaign ran here).
    pub resources: Option<crate::resources::ResourcesStatus>,
    /// Errors the last campaign met (each said once while it repeated): how many and
    /// the last one; null when there were none.
    #[serde(default)]
    pub errors: Option<ErrorsDoc>,
    /// The node's last measurement of how many workers pay (run with `workers` unset):
    /// the chosen number and the curve that chose it; null before one ran.
    #[serde(default)]
    pub workers: Option<WorkersDoc>,
}

/// The meta row where `run` keeps its measurement of the workers per node
/// ([`WorkersDoc`] as JSON), reused while the binary and the core count are the same.
pub const WORKERS_META: &str = "workers-calibration";

/// How many workers the node runs when the configuration leaves it open, measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkersDoc {
    /// The chosen number of workers.
    pub workers: usize,
    pub cores: usize,
    /// The target measured, and its binary's stamp when it was.
    pub target: String,
    pub binary_size: u64,
    pub binary_mtime_ms: i64,
    /// RFC 3339.
    pub measured_at: String,
    /// A worker had to add more than this share of an average worker's rate.
    pub threshold: f64,
    pub curve: Vec<WorkersPointDoc>,
    /// `2 workers: every worker up to the 2 cores added more than 25 % of a worker`.
    pub reason: String,
}

/// One measured count: the aggregate execs/s with this many workers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkersPointDoc {
    pub workers: usize,
    pub execs_per_s: f64,
    /// What the added workers gave over the best count before, per added worker, as a
    /// share of one average worker there (0 for one worker).
    pub gain: f64,
    pub accepted: bool,
}

/// A campaign's errors, counted (see [`ERRORS_META`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorsDoc {
    pub count: u64,
    pub last: Option<String>,
    /// When the last one happened (RFC 3339, UTC); absent in documents of versions
    /// before it was kept.
    pub last_at: Option<String>,
}

/// The meta row where a campaign counts its errors:
/// `{"count": N, "last": "...", "last_at": "2026-12-07T14:05:57Z"}`.
pub const ERRORS_META: &str = "campaign_errors";

/// The meta row where a campaign publishes what its schedule and its strategy bandits
/// decide and why: `{"shares": [ShareDoc...], "bandits": {"<target>": [StrategyDoc...]}}`.
pub const PORTFOLIO_META: &str = "portfolio";

/// A target's share of the node under the coverage-following schedule, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShareDoc {
    /// Of the node's worker time, 0..=1 (0 while it waits for a first turn).
    pub share: f64,
    /// Recent new features (bugs weighted) per worker-second.
    pub rate: Option<f64>,
    /// `plateaued 6 h: share 5 %`, `growing: 12 new features/worker-s: share 60 %`.
    pub reason: String,
}

/// One strategy (an arm of the target's bandit): what it paid and how often it is
/// chosen now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StrategyDoc {
    /// `value_profile+dict:recommended`, `plain`, `aflpp:cmplog`.
    pub label: String,
    pub runs: u64,
    pub cpu_s: f64,
    pub features: u64,
    pub bugs: u64,
    /// Recent new features (bugs weighted) per CPU-second; null before a run.
    pub rate: Option<f64>,
    /// How often the bandit would choose it now, 0..=1.
    pub chosen_share: f64,
    /// `value_profile: 3.1 new features/cpu-s over 12 runs, chosen 62 %`.
    pub text: String,
}

/// One target's line in `status --json`.
///
/// The three crash counts, named the same everywhere (see docs/status.md):
/// `crashes` counts **artifacts** (every time libFuzzer wrote a crashing input, copies of
/// the same input included), `inputs` the **distinct crashing inputs**, `bugs` the
/// **buckets** (an input not triaged yet counts as its own until triage files it;
/// `buckets` is the same number under its version-1 name).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetStatus {
    pub name: String,
    pub state: String,
    /// True when the target has never had a worker fuzzing (apart from `stopped`).
    #[serde(default)]
    pub never_run: bool,
    pub workers: i64,
    pub execs: i64,
    /// Execs per second now: execs counted over the last 30 s of wall time, across
    /// worker restarts; 0 when no worker runs.
    pub execs_per_sec: f64,
    /// The rate it had the last time it ran (shown after a stop).
    #[serde(default)]
    pub last_execs_per_sec: f64,
    /// Execs over wall time of the campaign run that last ran it.
    #[serde(default)]
    pub avg_execs_per_sec: f64,
    pub coverage: Option<i64>,
    pub features: Option<i64>,
    pub corpus_files: i64,
    pub corpus_bytes: i64,
    pub crashes: i64,
    pub buckets: i64,
    #[serde(default)]
    pub inputs: i64,
    #[serde(default)]
    pub bugs: i64,
    /// Crashing inputs not triaged yet.
    #[serde(default)]
    pub pending: i64,
    /// Crash reports seen with no artifact after them (a worker cut off while writing).
    #[serde(default)]
    pub lost_findings: i64,
    /// Its place in the schedule (filled by callers that know the config's tiers).
    #[serde(default)]
    pub schedule: Option<SchedulePlace>,
    /// Its share under the coverage-following schedule and why (null under the tiers'
    /// clock).
    #[serde(default)]
    pub share: Option<ShareDoc>,
    /// Its strategies, most favoured first, with what each paid (empty with
    /// `strategies = "plain"`).
    #[serde(default)]
    pub strategies: Vec<StrategyDoc>,
    pub last_new_coverage_at: Option<String>,
    /// Line coverage of the code under test in percent, from the newest source-based
    /// coverage computation (`fuzzfleet coverage`); null until one has run.
    pub line_coverage: Option<f64>,
    /// Share of assigned worker time spent inside libFuzzer's loop.
    pub uptime: Option<f64>,
    pub restarts: i64,
    pub message: Option<String>,
    pub updated_at: String,
}

impl TargetStatus {
    /// The state as people read it: `never run` apart from `stopped`.
    pub fn state_word(&self) -> &str {
        if self.never_run && self.state != "running" && self.state != "failed" {
            "never run"
        } else {
            &self.state
        }
    }

    /// Bugs: `bugs`, or `buckets` from a node before the three counts were named.
    pub fn bug_count(&self) -> i64 {
        if self.bugs > 0 {
            self.bugs
        } else {
            self.buckets
        }
    }
}

/// A target's place in its tier's schedule: the budget of its turn in the current cycle,
/// how much of it is used and what is left.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulePlace {
    pub tier: String,
    pub cycle: u64,
    pub budget_s: u64,
    pub used_s: u64,
    pub left_s: u64,
}

/// A tier as the config gives it, for [`schedule_places`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierBudget {
    pub name: String,
    #[serde(with = "secs")]
    pub budget: std::time::Duration,
    pub targets: Vec<String>,
}

/// The `meta` key where a campaign leaves the tiers it runs, so every reader of the
/// state (status, the live view, the API) can show each target's place without the
/// config.
pub const TIERS_META: &str = "schedule-tiers";

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// What a report reads of a tier's saved schedule state (the campaign's
/// `schedule::TierState`, kept as JSON in the `schedules` table): the cycle and each
/// target's time in it. A missing, unreadable or newer state reads as a fresh cycle,
/// as the campaign itself reads it.
#[derive(Debug, Default, Deserialize)]
struct TierProgress {
    version: u32,
    cycle: u64,
    consumed_ms: BTreeMap<String, u64>,
}

/// The version of the saved schedule state this crate reads (`schedule::SCHEDULE_VERSION`).
pub const SCHEDULE_VERSION: u32 = 1;

impl TierProgress {
    fn from_json(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str::<TierProgress>(t).ok())
            .filter(|s| s.version == SCHEDULE_VERSION)
            .unwrap_or_default()
    }
}

/// The tiers the last campaign on this state dir ran (empty before the first).
pub fn campaign_tiers(db: &Db) -> Result<Vec<TierBudget>, StoreError> {
    Ok(db
        .meta(TIERS_META)?
        .and_then(|(json, _)| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// Each target's place in its tier's current cycle, from the saved schedule.
pub fn schedule_places(
    db: &Db,
    tiers: &[TierBudget],
) -> Result<BTreeMap<String, SchedulePlace>, StoreError> {
    let mut places = BTreeMap::new();
    for t in tiers {
        let saved = db.load_schedule(&t.name)?;
        let state = TierProgress::from_json(saved.as_ref().map(|r| r.state.as_str()));
        for target in &t.targets {
            let used_ms = state.consumed_ms.get(target).copied().unwrap_or(0);
            let budget_s = t.budget.as_secs();
            let used_s = (used_ms / 1000).min(budget_s);
            places.entry(target.clone()).or_insert(SchedulePlace {
                tier: t.name.clone(),
                cycle: state.cycle,
                budget_s,
                used_s,
                left_s: budget_s - used_s,
            });
        }
    }
    Ok(places)
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CrashesDoc {
    pub version: u32,
    pub buckets: Vec<Bucket>,
}

/// A bucket in the contract's shape. Until the crash pipeline exists, each finding is
/// its own bucket and what only the pipeline knows is null.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Bucket {
    pub id: String,
    pub target: String,
    pub kind: String,
    pub signature: Option<String>,
    pub title: String,
    pub severity: Option<String>,
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub repro: String,
    pub input_path: String,
    pub minimized_path: Option<String>,
    /// What minimization made of the input: `minimized` (`minimized_path` is the
    /// smallest crashing input), `did-not-crash` (minimization ran the input and it did
    /// not crash: a bug that does not reproduce every time, so nothing was minimized),
    /// null until minimization ran.
    #[serde(default)]
    pub minimize_result: Option<String>,
    pub nodes: Vec<String>,
    pub report_path: Option<String>,
    /// `open`, `fixed` (no longer reproduces with the target's current build) or
    /// `regressed` (crashes again after being fixed); null until triaged.
    #[serde(default)]
    pub state: Option<String>,
    /// The build id (SHA-1 of the target binary) the state was decided with.
    #[serde(default)]
    pub state_build: Option<String>,
    /// Finding ids filed under this bucket (the untriaged entry: its one finding).
    #[serde(default)]
    pub findings: Vec<i64>,
}

/// `Bucket::minimize_result` when minimization ran the input and it did not crash.
pub const MINIMIZE_DID_NOT_CRASH: &str = "did-not-crash";

impl Bucket {
    /// Minimization ran the bucket's input and it did not crash: a bug that does not
    /// reproduce every time, with nothing minimized.
    pub fn minimize_did_not_crash(&self) -> bool {
        self.minimize_result.as_deref() == Some(MINIMIZE_DID_NOT_CRASH)
    }
}

/// Findings that are bugs (slow units are reported, not counted as crashes).
fn is_crash(f: &FindingRecord) -> bool {
    f.kind != "slow"
}

/// Builds `status` from the database. `known` lists the configured targets, shown even
/// before they first ran.
pub fn status(db: &Db, known: &[String], system: SystemStatus) -> Result<StatusDoc, StoreError> {
    let mut records: BTreeMap<String, TargetRecord> = db
        .targets()?
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    for name in known {
        records.entry(name.clone()).or_insert_with(|| TargetRecord {
            name: name.clone(),
            state: "waiting".into(),
            ..TargetRecord::default()
        });
    }
    // Crashes count every time one was hit; buckets count bugs (an untriaged finding is
    // its own until triage files it).
    let mut crashes: BTreeMap<String, CrashCounts> = BTreeMap::new();
    let mut seen: std::collections::BTreeSet<(String, String)> = Default::default();
    for f in db.findings()?.iter().filter(|f| is_crash(f)) {
        let e = crashes.entry(f.target.clone()).or_default();
        e.artifacts += f.count;
        e.inputs += 1;
        if f.bucket.is_none() {
            e.pending += 1;
        }
        if seen.insert((f.target.clone(), finding_bucket_id(f))) {
            e.bugs += 1;
        }
    }
    let rates: BTreeMap<String, fleet_store::TargetRates> = db
        .all_target_rates()?
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    let mut line_coverage: BTreeMap<String, f64> = BTreeMap::new();
    for name in records.keys() {
        if let Some(p) = db.latest_coverage(name)?.and_then(|c| c.line_percent()) {
            line_coverage.insert(name.clone(), (p * 10.0).round() / 10.0);
        }
    }
    let mut targets: Vec<TargetStatus> = records
        .into_values()
        .map(|t| {
            let counts = crashes.get(&t.name).copied().unwrap_or_default();
            let rate = rates.get(&t.name).cloned().unwrap_or_default();
            TargetStatus {
                never_run: t.fuzz_ms == 0 && t.execs == 0 && t.workers == 0,
                last_execs_per_sec: round1(rate.last_execs_per_sec),
                avg_execs_per_sec: round1(rate.avg_execs_per_sec),
                lost_findings: rate.lost_findings,
                inputs: counts.inputs,
                bugs: counts.bugs,
                pending: counts.pending,
                schedule: None,
                share: None,
                strategies: Vec::new(),
                line_coverage: line_coverage.get(&t.name).copied(),
                uptime: (t.slot_ms > 0).then(|| (t.fuzz_ms as f64 / t.slot_ms as f64).min(1.0)),
                last_new_coverage_at: t.last_new_coverage_at.map(rfc3339),
                updated_at: rfc3339(t.updated_at),
                name: t.name,
                state: t.state,
                workers: t.workers,
                execs: t.execs,
                execs_per_sec: round1(t.execs_per_sec),
                coverage: t.coverage,
                features: t.features,
                corpus_files: t.corpus_files,
                corpus_bytes: t.corpus_bytes,
                crashes: counts.artifacts,
                buckets: counts.bugs,
                restarts: t.restarts,
                message: t.message,
            }
        })
        .collect();
    let mut places = schedule_places(db, &campaign_tiers(db)?)?;
    let (mut shares, mut strategies) = portfolio(db)?;
    for t in &mut targets {
        t.schedule = places.remove(&t.name);
        t.share = shares.remove(&t.name);
        t.strategies = strategies.remove(&t.name).unwrap_or_default();
    }
    let errors = db
        .meta(ERRORS_META)?
        .and_then(|(v, _)| serde_json::from_str::<ErrorsDoc>(&v).ok())
        .filter(|e| e.count > 0);
    let hub = db
        .meta(crate::hub::HUB_META)?
        .and_then(|(v, _)| serde_json::from_str(&v).ok());
    Ok(StatusDoc {
        version: DOC_VERSION,
        targets,
        system,
        hub,
        resources: crate::resources::load_status(db),
        errors,
        workers: db
            .meta(WORKERS_META)?
            .and_then(|(v, _)| serde_json::from_str(&v).ok()),
    })
}

/// What the last campaign's schedule and strategy bandits said of each target.
#[allow(clippy::type_complexity)]
fn portfolio(
    db: &Db,
) -> Result<
    (
        BTreeMap<String, ShareDoc>,
        BTreeMap<String, Vec<StrategyDoc>>,
    ),
    StoreError,
> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Stored {
        shares: Vec<StoredShare>,
        bandits: BTreeMap<String, Vec<StrategyDoc>>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct StoredShare {
        target: String,
        #[serde(flatten)]
        doc: ShareDoc,
    }
    let stored: Stored = db
        .meta(PORTFOLIO_META)?
        .and_then(|(v, _)| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    let shares = stored
        .shares
        .into_iter()
        .map(|s| (s.target, s.doc))
        .collect();
    Ok((shares, stored.bandits))
}

/// One target's crash counts (see [`TargetStatus`]).
#[derive(Clone, Copy, Debug, Default)]
struct CrashCounts {
    artifacts: i64,
    inputs: i64,
    bugs: i64,
    pending: i64,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The id of an untriaged finding's own entry: derived from what the finding is (target,
/// kind, input hash), so it is the same on every node. Bucket ids proper are 16 hex
/// digits from the signature; these are 12.
pub fn bucket_id(f: &FindingRecord) -> String {
    sha1_hex(format!("{}\0{}\0{}", f.target, f.kind, f.sha1).as_bytes())[..12].to_string()
}

/// The bucket a finding is listed under: its triaged bucket, else its own entry.
pub fn finding_bucket_id(f: &FindingRecord) -> String {
    f.bucket.clone().unwrap_or_else(|| bucket_id(f))
}

/// Builds `crashes list` from the database: the triaged buckets (one per bug, most
/// severe first), then each finding not triaged yet as its own entry with `repro`
/// `pending` and what only triage knows null.
pub fn crashes(db: &Db, node: &str) -> Result<CrashesDoc, StoreError> {
    let findings = db.findings()?;
    let mut by_bucket: BTreeMap<&str, Vec<&FindingRecord>> = BTreeMap::new();
    for f in &findings {
        if let Some(b) = &f.bucket {
            by_bucket.entry(b.as_str()).or_default().push(f);
        }
    }
    let mut buckets = Vec::new();
    for b in db.buckets()? {
        let members = by_bucket.remove(b.id.as_str()).unwrap_or_default();
        let rep = members
            .iter()
            .find(|f| f.sha1 == b.representative)
            .or_else(|| members.iter().find(|f| !f.dropped))
            .or(members.first());
        buckets.push(Bucket {
            title: b.title,
            target: b.target,
            kind: b.kind,
            signature: Some(b.signature),
            severity: Some(b.severity),
            count: b.count,
            first_seen: rfc3339(b.first_seen),
            last_seen: rfc3339(b.last_seen),
            repro: b.repro,
            input_path: rep.map(|f| f.input_path.clone()).unwrap_or_default(),
            minimize_result: b.minimized_path.as_deref().map(|p| {
                if p.is_empty() {
                    MINIMIZE_DID_NOT_CRASH.into()
                } else {
                    "minimized".into()
                }
            }),
            minimized_path: b.minimized_path.filter(|p| !p.is_empty()),
            nodes: {
                let mut nodes: Vec<String> = b
                    .nodes
                    .into_iter()
                    .map(|n| n.unwrap_or_else(|| node.to_string()))
                    .collect();
                nodes.sort();
                nodes.dedup();
                nodes
            },
            report_path: rep.and_then(|f| f.report_path.clone()),
            state: Some(b.state),
            state_build: b.state_build,
            findings: members.iter().map(|f| f.id).collect(),
            id: b.id,
        });
    }
    buckets.extend(
        findings
            .iter()
            .filter(|f| f.bucket.is_none())
            .map(|f| Bucket {
                id: bucket_id(f),
                title: format!(
                    "{} in {} (input {})",
                    f.kind,
                    f.target,
                    &f.sha1[..f.sha1.len().min(12)]
                ),
                target: f.target.clone(),
                kind: f.kind.clone(),
                signature: None,
                severity: None,
                count: f.count,
                first_seen: rfc3339(f.first_seen),
                last_seen: rfc3339(f.last_seen),
                repro: "pending".into(),
                input_path: f.input_path.clone(),
                minimized_path: None,
                minimize_result: None,
                nodes: vec![f.node.clone().unwrap_or_else(|| node.to_string())],
                report_path: f.report_path.clone(),
                state: None,
                state_build: None,
                findings: vec![f.id],
            }),
    );
    Ok(CrashesDoc {
        version: DOC_VERSION,
        buckets,
    })
}
