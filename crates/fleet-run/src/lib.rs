//! Supervision and scheduling: runs a campaign's workers as libFuzzer processes, keeps
//! what they find, and records their stats.

pub mod schedule;
