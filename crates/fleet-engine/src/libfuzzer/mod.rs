//! The libFuzzer adapter: worker, replay, reproduce and merge commands; status-line, notice and final-stats parsing; whole reports out of a worker's output; artifact and exit classification.

mod artifact;
mod assemble;
mod commands;
mod error;
mod exit;
mod final_stats;
mod flags;
pub mod harvest;
mod line;
mod notice;
mod options;
pub mod quirks;
mod report;
mod status;
pub mod strategy;

pub use artifact::{artifact_file_name, classify_artifact};
pub use assemble::{Assembled, CONTEXT_LINES, REPORT_MAX_LINES, ReportAssembler, headline};
pub use commands::{
    CoverageReplayOptions, Limits, MergeOptions, MinimizeCrashOptions, ReplayInputs, ReplayOptions,
    ReproduceOptions, coverage_replay_command, merge_command, minimize_crash_command,
    replay_command, reproduce_command,
};
pub use error::{ParseError, ParseErrorKind};
pub use exit::{ExitKind, classify_exit};
pub use final_stats::{FinalStats, parse_final_stats};
pub use flags::{ExtraFlag, FlagError, KNOWN_FLAGS, RESERVED_FLAGS};
pub use line::{LogLine, parse_line};
pub use notice::{MergeStage, Notice};
pub use options::{ForkOptions, LibFuzzerOptions, worker_command};
pub use quirks::{EXIT_CRASH, EXIT_INTERRUPTED, EXIT_OOM, EXIT_TIMEOUT};
pub use report::EngineError;
pub use status::{ForkJob, Status, StatusEvent, UnitInfo};
