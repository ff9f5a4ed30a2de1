//! The hub's health as `status` shows it. The campaign's hub sync
//! (`fleet_run::hubsync`) writes it to the database's meta table after each round.

use serde::{Deserialize, Serialize};

/// The `meta` key under which the hub's health is kept for `status`.
pub const HUB_META: &str = "hub";

/// The hub as `status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HubStatus {
    pub url: String,
    /// `ok`, or `degraded` while the hub cannot be reached (fuzzing goes on).
    pub state: String,
    pub last_sync_at: Option<String>,
    pub last_ok_at: Option<String>,
    pub message: Option<String>,
    pub pushed: u64,
    pub pulled: u64,
}
