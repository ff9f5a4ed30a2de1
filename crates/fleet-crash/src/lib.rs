//! The crash pipeline's core: parse crash reports, compute signatures and bucket ids, bucket crashes with manual merge/split rules, rank severity, reproduce and minimize inputs, export SARIF.
//!
//! The pure parts (everything but [`reproduce`] and [`minimize`]) work on
//! values and never touch the disk or spawn, so the store, the campaign
//! and the CLI can share them and tests can feed them real captured
//! output (`fixtures/logs/reports/`, `fixtures/logs/libfuzzer/`).
//!
//! The flow a caller wires up:
//!
//! ```text
//! finding ──> TargetRunner::reproduce ──> Reproduction { repro, report, signature }
//!                                              │
//!               Crash::new(target, InputKey::of(bytes), &report, &config)
//!                                              │
//!               Buckets::add(&rules, &crash) ──> Added { bucket, new_bucket, kept, … }
//!                                              │
//!      new bucket: notify; new representative: TargetRunner::minimize in the background
//!                                              │
//!               sarif::to_sarif(buckets.iter(), &options)
//! ```

mod bucket;
mod frames;
mod id;
mod kind;
pub mod minimize;
pub mod normalize;
mod process;
mod recoverable;
mod report;
pub mod reproduce;
mod rules;
pub mod sarif;
mod severity;
mod signature;
mod symbolizer;

pub use bucket::{Added, Bucket, Buckets, Crash, DEFAULT_KEEP_INPUTS, InputKey, Kept};
pub use fleet_proc::{OwnChild, own_child, own_children};
pub use frames::{is_runtime, meaningful_frames};
pub use id::{BUCKET_ID_LEN, BucketId, InvalidBucketId};
pub use kind::{Access, CrashKind, UnknownCrashKind};
pub use minimize::{Minimization, MinimizeOptions, MinimizeOutcome, minimize_command};
pub use process::{RunError, RunLimits};
pub use recoverable::{
    DEFAULT_RECOVERABLE_SEVERITY, RECOVERABLE_KIND, RecoverableReport, classify_recoverable,
    recoverable_severity,
};
pub use report::{
    Frame, Location, MEMORY_WATCH_OOM, Panic, Report, parse_backtrace_frame, parse_report,
    parse_sanitizer_frame,
};
pub use reproduce::{
    DEFAULT_RUNS, Execution, Repro, Reproduction, Run, RunOutcome, TargetRunner, signal_report,
};
pub use rules::{RULES_VERSION, RuleError, Rules, SplitBy};
pub use severity::{Severity, UnknownSeverity};
pub use signature::{SIGNATURE_VERSION, Signature, SignatureConfig, title};
pub use symbolizer::{fast_env, find_symbolizer, find_symbolizer_in, symbolization_env};
