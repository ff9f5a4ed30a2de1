//! Supervision and scheduling: runs a campaign's workers as libFuzzer processes, keeps
//! what they find, and records their stats.

pub mod background;
pub mod calibrate;
pub mod campaign;
pub mod corpus;
mod events;
pub mod findings;
pub mod hubsync;
pub mod minimize;
pub mod notify;
pub mod output;
pub mod portfolio;
pub mod process;
pub mod regress;
pub mod repeats;
pub mod report;
pub mod resources;
pub mod schedule;
mod stats;
pub mod triage;
mod triage_thread;
pub mod worker;
mod worker_output;

// The documents every view shares live in `fleet-docs`; these paths stay for the
// campaign's code and the binary.
pub use fleet_docs::{fmt, system};
/// `/proc` as the campaign reads it, for the benchmarks that watch its processes.
pub use fleet_sys::procfs;

pub use campaign::{
    AutoMinimize, CampaignSpec, CampaignTarget, Notice, Progress, StopReason, Summary, TriageSpec,
    run,
};
