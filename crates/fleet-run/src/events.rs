//! The one event enum the dispatcher selects over: worker messages and signals.

use std::path::PathBuf;
use std::time::Instant;

use crate::output::Status;

/// Identifies one run of one worker process (a restarted worker gets a new one).
pub type RunId = u64;

/// Everything that can wake the dispatcher.
#[derive(Debug)]
pub enum Event {
    Worker(RunId, WorkerMsg),
    /// SIGINT or SIGTERM (the number), forwarded from the signal thread.
    Signal(i32),
    /// A hub sync round ended.
    HubSynced(crate::hubsync::RoundOutcome),
    /// The triage thread's news.
    Triage(crate::triage::TriageEvent),
    /// The webhook notifier's delivery report.
    Webhook(crate::notify::Delivery),
    /// What a run paid by a replay (an AFL++ run, a value-profile, subset or `max_len`
    /// libFuzzer run) added, counted as a plain libFuzzer run counts features: the
    /// corpus replayed through the libFuzzer binary without the run's finds and with
    /// them.
    Replayed {
        /// The run measured (its replay's thread is joined by it).
        run: RunId,
        target: String,
        arm: crate::portfolio::bandit::Arm,
        cpu: std::time::Duration,
        /// The features without the run's entries, and with them.
        features: Result<(u64, u64), String>,
        new_bugs: u64,
    },
    /// A background corpus minimization ended.
    Minimized {
        target: String,
        outcome: Result<crate::minimize::MinimizeOutcome, String>,
    },
}

/// What a worker's threads report.
#[derive(Debug)]
pub enum WorkerMsg {
    /// libFuzzer printed `INITED`: the fuzzing loop starts.
    Inited,
    Status(Box<Status>),
    /// The exact execution count libFuzzer printed at exit.
    FinalExecs(u64),
    /// libFuzzer wrote an artifact; `report` is its whole report (sent once the report
    /// ended, which for a timeout or an OOM is after the artifact line).
    Artifact {
        path: PathBuf,
        report: String,
    },
    /// A failure report that no artifact followed before the output ended (the worker
    /// was stopped while it wrote it): a finding lost, counted and shown.
    LostReport {
        report: String,
    },
    /// A sanitizer report the target recovered from (UBSan built with
    /// `-fsanitize-recover`): no artifact; `location` is `FILE:LINE:COL`.
    Recoverable {
        location: String,
        message: String,
        report: String,
    },
    /// A line that looked like engine status but did not parse: shown, never a silent zero.
    ParseError(String),
    /// The memory watch asks the worker to dump its input: it neared its limit. Sent
    /// before the signal, so it arrives before the artifact it causes.
    MemoryLimit {
        used_mb: u64,
        limit_mb: u64,
    },
    /// The process ended and its group is gone; sent exactly once, last.
    Exited(WorkerExit),
}

/// How a worker process ended.
#[derive(Debug)]
pub struct WorkerExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Its last lines of output.
    pub tail: Vec<String>,
    /// Whether it reached libFuzzer's `INITED` (a target that dies before is failed).
    pub saw_inited: bool,
    pub at: Instant,
    /// What the memory watch saw (peak, whether it stopped the worker at its limit).
    pub memory: Option<crate::resources::MemoryOutcome>,
}
