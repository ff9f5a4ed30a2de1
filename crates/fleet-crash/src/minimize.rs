//! Minimization: libFuzzer's `-minimize_crash=1`, time-boxed and at low priority, keeping the original input and accepting the smaller one only if it still shows the same bug.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleet_engine::EngineCommand;
use fleet_engine::libfuzzer::{ExtraFlag, Limits, MinimizeCrashOptions, minimize_crash_command};

use crate::process::{RunError, RunLimits};
use crate::reproduce::{Repro, Reproduction, TargetRunner, absolute};
use crate::signature::Signature;
use crate::symbolizer::fast_env;

/// What the minimization runs: libFuzzer's crash minimizer (see the engine's quirk).
pub use fleet_engine::libfuzzer::quirks::FLAG_MINIMIZE_CRASH;

/// Minimization settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinimizeOptions {
    /// Wall-clock budget of the whole minimization; when it runs out the
    /// process group is stopped and the smallest input so far is used.
    pub budget: Duration,
    /// `-max_total_time` of each libFuzzer minimization step.
    pub step_time: Duration,
    /// Runs of the minimized input that must all reproduce the signature.
    pub verify_runs: u32,
    /// Stops the minimization when set (a campaign that stops needs the runner for
    /// reproductions): nothing is kept, and the bucket is minimized another time.
    pub cancel: Option<fleet_proc::Cancel>,
}

impl Default for MinimizeOptions {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(120),
            step_time: Duration::from_secs(20),
            verify_runs: 2,
            cancel: None,
        }
    }
}

/// What a minimization produced.
#[derive(Debug, Clone)]
pub enum MinimizeOutcome {
    /// A smaller input with the same signature, now at the output path.
    Minimized {
        path: PathBuf,
        len: u64,
        reproduction: Reproduction,
    },
    /// libFuzzer found nothing smaller (or the input did not crash).
    NotSmaller,
    /// libFuzzer's smaller input does not reproduce the same signature
    /// every time (it drifted to another bug, or is flaky): deleted.
    Discarded {
        len: u64,
        reproduction: Reproduction,
    },
    /// Stopped by [`MinimizeOptions::cancel`] before it finished: nothing kept.
    Cancelled,
}

/// A minimization's result.
#[derive(Debug, Clone)]
pub struct Minimization {
    pub outcome: MinimizeOutcome,
    pub original_len: u64,
    pub elapsed: Duration,
    /// The budget ran out before libFuzzer finished.
    pub budget_exhausted: bool,
    /// libFuzzer's own output (`CRASH_MIN:` lines), for the log.
    pub output: String,
}

/// The `-minimize_crash=1` command for `input`, writing to `artifact`.
pub fn minimize_command(
    binary: &Path,
    input: &Path,
    artifact: &Path,
    limits: &Limits,
    step_time: Duration,
    extra_args: &[ExtraFlag],
    env: Vec<(OsString, OsString)>,
) -> EngineCommand {
    minimize_crash_command(&MinimizeCrashOptions {
        binary: binary.to_path_buf(),
        input: input.to_path_buf(),
        exact_artifact_path: artifact.to_path_buf(),
        limits: *limits,
        step_time,
        extra_args: extra_args.to_vec(),
        env,
    })
}

impl TargetRunner {
    /// Minimizes `input`, a crash whose signature is `expected`, into
    /// `output` (in an existing directory). The original is never touched;
    /// the minimized input appears at `output` only once verified (written
    /// beside it first, then renamed). Runs at the runner's niceness
    /// (19 by default) within `options.budget`.
    pub fn minimize(
        &self,
        input: &Path,
        output: &Path,
        expected: &Signature,
        options: &MinimizeOptions,
    ) -> Result<Minimization, RunError> {
        let start = Instant::now();
        let input = absolute(input)?;
        let output = absolute(output)?;
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { what, path, source }
        };
        let original_len = fs::metadata(&input)
            .map_err(io("cannot read the input", &input))?
            .len();
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "minimized".into());
        let partial = output.with_file_name(format!(".{name}.minimizing-{}", std::process::id()));
        remove_if_exists(&partial)?;
        let cmd = minimize_command(
            &self.binary,
            &input,
            &partial,
            &self.limits,
            options.step_time,
            &self.extra_args,
            fast_env(&self.env),
        );
        let limits = RunLimits {
            deadline: options.budget,
            cancel: options.cancel.clone(),
            ..self.run_limits.clone()
        };
        let exec = self.execute_command(&cmd, &limits)?;
        let finish = |outcome| Minimization {
            outcome,
            original_len,
            elapsed: start.elapsed(),
            budget_exhausted: exec.deadline_exceeded,
            output: exec.output.clone(),
        };
        if exec.cancelled {
            remove_if_exists(&partial)?;
            return Ok(finish(MinimizeOutcome::Cancelled));
        }
        let len = match fs::metadata(&partial) {
            Ok(m) => m.len(),
            Err(_) => return Ok(finish(MinimizeOutcome::NotSmaller)),
        };
        if len >= original_len {
            remove_if_exists(&partial)?;
            return Ok(finish(MinimizeOutcome::NotSmaller));
        }
        let reproduction = self.reproduce(&partial, options.verify_runs, Some(expected))?;
        if reproduction.repro != Repro::Always {
            remove_if_exists(&partial)?;
            return Ok(finish(MinimizeOutcome::Discarded { len, reproduction }));
        }
        fs::rename(&partial, &output).map_err(io("cannot move the minimized input to", &output))?;
        Ok(finish(MinimizeOutcome::Minimized {
            path: output,
            len,
            reproduction,
        }))
    }
}

fn remove_if_exists(path: &Path) -> Result<(), RunError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RunError::Io {
            what: "cannot remove",
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_asks_for_a_time_boxed_minimization_to_an_exact_path() {
        let cmd = minimize_command(
            Path::new("/fz/t"),
            Path::new("/st/crash-aa"),
            Path::new("/st/.min"),
            &Limits {
                rss_limit_mb: 2048,
                malloc_limit_mb: Some(512),
                timeout_s: 5,
            },
            Duration::from_secs(20),
            &["-detect_leaks=0".parse().unwrap()],
            vec![],
        );
        assert_eq!(
            cmd.args_lossy(),
            [
                "-rss_limit_mb=2048",
                "-malloc_limit_mb=512",
                "-timeout=5",
                "-minimize_crash=1",
                "-max_total_time=20",
                "-exact_artifact_path=/st/.min",
                "-detect_leaks=0",
                "/st/crash-aa",
            ]
        );
    }
}
