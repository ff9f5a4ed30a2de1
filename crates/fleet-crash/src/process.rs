//! Running one target process for reproduction or minimization, through the one runner
//! (`fleet-proc`): own process group, parent-death signal, optional low priority,
//! captured stderr, a hard deadline (SIGTERM, grace, SIGKILL on the group).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fleet_engine::EngineCommand;
use fleet_engine::libfuzzer::{ExitKind, classify_exit};
use fleet_proc::Spawn;

/// How a spawned run is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLimits {
    /// Wall-clock limit of the whole process group; then SIGTERM, `grace`,
    /// SIGKILL. libFuzzer's own `-timeout` normally fires first; this
    /// catches what it cannot (a target blocked in a syscall, a stuck
    /// symbolizer, a minimization that goes on and on).
    pub deadline: Duration,
    pub grace: Duration,
    /// The niceness to run at (19 = lowest priority), or `None` to inherit.
    /// Background work must not slow the fuzzers down.
    pub nice: Option<i32>,
    /// Stderr kept: the first and the last half of this many bytes.
    pub max_output_bytes: usize,
    /// Ends the run early when set: a stopping campaign's minimization.
    pub cancel: Option<fleet_proc::Cancel>,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(120),
            grace: Duration::from_secs(3),
            nice: Some(19),
            max_output_bytes: 4 << 20,
            cancel: None,
        }
    }
}

/// Why a run could not be carried out (a crash of the target is a result,
/// not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Run(#[from] fleet_proc::RunError),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// What one run did.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub exit: ExitKind,
    /// Stderr, lossily decoded; the middle is cut when it was too long.
    pub output: String,
    pub elapsed: Duration,
    pub deadline_exceeded: bool,
    pub cancelled: bool,
}

/// Runs `cmd` in `cwd` (stdin and stdout null, stderr captured) in a
/// process group of its own, within `limits`. The run dies with the thread that
/// started it, even on `kill -9` of fuzzfleet: no reproduction outlives the campaign
/// that asked for it.
pub(crate) fn run(
    cmd: &EngineCommand,
    cwd: &Path,
    limits: &RunLimits,
) -> Result<Finished, RunError> {
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd);
    let done = fleet_proc::run(
        Spawn::new(command).nice(limits.nice),
        &fleet_proc::Limits {
            deadline: limits.deadline,
            grace: limits.grace,
            max_output_bytes: limits.max_output_bytes,
            cancel: limits.cancel.clone(),
        },
        &mut |_| {},
    )?;
    Ok(Finished {
        exit: classify_exit(done.status.code(), done.status.signal()),
        output: done.output,
        elapsed: done.elapsed,
        deadline_exceeded: done.deadline_exceeded,
        cancelled: done.cancelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str) -> EngineCommand {
        let mut cmd = EngineCommand::new("/bin/sh");
        cmd.args = vec!["-c".into(), script.into()];
        cmd
    }

    #[test]
    fn captures_stderr_and_exit() {
        let limits = RunLimits::default();
        let done = run(
            &sh("echo out; echo err >&2; exit 77"),
            Path::new("/"),
            &limits,
        )
        .unwrap();
        assert_eq!(done.exit, ExitKind::Crash);
        assert_eq!(done.output, "err\n");
        assert!(!done.deadline_exceeded);
    }

    #[test]
    fn deadline_kills_the_whole_group() {
        let limits = RunLimits {
            deadline: Duration::from_millis(300),
            grace: Duration::from_millis(200),
            ..RunLimits::default()
        };
        // The shell ignores SIGTERM and leaves a grandchild; both must go.
        let start = Instant::now();
        let done = run(
            &sh("trap '' TERM; sleep 30 & echo started >&2; wait"),
            Path::new("/"),
            &limits,
        )
        .unwrap();
        assert!(done.deadline_exceeded);
        assert_eq!(done.exit, ExitKind::Signal(libc::SIGKILL));
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(done.output, "started\n");
    }

    #[test]
    fn runs_at_the_requested_niceness() {
        let limits = RunLimits {
            nice: Some(19),
            ..RunLimits::default()
        };
        let done = run(
            &sh("cut -d' ' -f19 /proc/self/stat >&2"),
            Path::new("/"),
            &limits,
        )
        .unwrap();
        assert_eq!(done.output.trim(), "19");
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let cmd = EngineCommand::new("/nonexistent/fuzz-target");
        let err = run(&cmd, Path::new("/"), &RunLimits::default()).unwrap_err();
        assert!(
            matches!(err, RunError::Run(fleet_proc::RunError::Spawn { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent/fuzz-target"));
    }
}
