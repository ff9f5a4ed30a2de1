//! Engine adapters: turn typed options into fuzzer commands, parse engine output into typed stats, and classify what the engine leaves behind.
//!
//! Everything here is pure: no process is spawned and nothing is read or
//! written except what a caller passes in, so the supervisor (fleet-run)
//! and the crash pipeline can share one definition of each engine's
//! protocol and test it against real captured output
//! (`fixtures/logs/libfuzzer/`).

pub mod aflpp;
mod command;
mod finding;
pub mod libfuzzer;

pub use command::EngineCommand;
pub use finding::{FindingKind, UnknownFindingKind};
