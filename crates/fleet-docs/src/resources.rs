//! The resource guard's part of `status` (the `resources` object): how worker memory is
//! limited, whether fuzzing is paused for disk, the active alerts and each target's
//! memory. The campaign's guard (`fleet_run::resources`) publishes it in the database's
//! meta table; every view reads it from there.

use fleet_store::Db;
use serde::{Deserialize, Serialize};

/// The key of the guard's state in the database's meta table (`status` reads it).
pub const RESOURCES_META: &str = "resources";

/// The guard's part of `status --json` (the `resources` object).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesStatus {
    /// How worker memory is limited: `cgroup-v2`, `cgroup-v1` or `rss-watch`.
    pub memory_limit: String,
    /// Fuzzing is paused for lack of disk space.
    pub paused: bool,
    pub alerts: Vec<Alert>,
    /// Per target: its limits and the highest worker memory seen this campaign.
    pub memory: Vec<TargetMemory>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetMemory {
    pub target: String,
    pub limit_mb: u64,
    pub libfuzzer_limit_mb: u64,
    pub peak_mb: u64,
    /// Workers that reached their limit (an `oom` finding each when an input was dumped).
    pub oom_stops: u64,
}

/// One active alert, as `status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Alert {
    /// `disk`, `disk-critical`, `cpu`, `load` or `memory`.
    pub kind: String,
    /// `warning` or `critical`.
    pub severity: String,
    pub message: String,
    /// RFC 3339 UTC.
    pub since: String,
}

/// Reads the guard's last published state (`None` before any campaign ran).
pub fn load_status(db: &Db) -> Option<ResourcesStatus> {
    let (v, _) = db.meta(RESOURCES_META).ok()??;
    serde_json::from_str(&v).ok()
}
