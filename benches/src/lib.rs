//! Shared helpers of the benchmark programs (`benches/overhead.rs`, `benches/uptime.rs`):
//! running a fixture target by hand and under fuzzfleet, timing the workers the same
//! way on both sides, and never leaving a process behind.

pub mod fleet;
pub mod hand;
pub mod knobs;
pub mod procs;
pub mod same;
pub mod scratch;
pub mod setup;
pub mod stats;
pub mod watch;
