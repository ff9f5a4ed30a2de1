//! Reproduction: run an input against its target binary a few times with the campaign's limits and full symbolization, and say whether it crashes the same way every time.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_engine::EngineCommand;
use fleet_engine::libfuzzer::{ExitKind, ExtraFlag, Limits, ReproduceOptions, reproduce_command};
use serde::{Deserialize, Serialize};

use crate::kind::{Access, CrashKind};
use crate::process::{RunError, RunLimits, run};
use crate::report::{Report, parse_report};
use crate::signature::{Signature, SignatureConfig};
use crate::symbolizer::{find_symbolizer, symbolization_env};

/// Runs per reproduction by default: enough to tell a flaky crash from a
/// deterministic one without costing much.
pub const DEFAULT_RUNS: u32 = 3;

/// Whether an input reproduces its crash (the contract's `repro`; the
/// store adds `pending` for findings not tried yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Repro {
    Always,
    Sometimes,
    Never,
}

impl Repro {
    pub fn as_str(self) -> &'static str {
        match self {
            Repro::Always => "always",
            Repro::Sometimes => "sometimes",
            Repro::Never => "never",
        }
    }

    fn of(reproduced: usize, runs: usize) -> Repro {
        match reproduced {
            0 => Repro::Never,
            n if n == runs => Repro::Always,
            _ => Repro::Sometimes,
        }
    }
}

impl fmt::Display for Repro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one run of a reproduction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Crashed with the expected signature.
    Reproduced,
    /// Crashed, but with another signature: not this bucket's bug.
    OtherCrash,
    /// Ended with a crash exit status but printed no report fleet-crash
    /// can read (output cut, a signal without libFuzzer's handler).
    Unrecognized,
    /// Ran to completion: no crash.
    NoCrash,
    /// Killed at the hard deadline; no report.
    DeadlineExceeded,
}

/// One run of a reproduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub outcome: RunOutcome,
    pub exit: ExitKind,
    pub elapsed: Duration,
    /// The crash's signature, when it crashed with a report.
    pub signature: Option<Signature>,
}

/// The result of reproducing one input.
#[derive(Debug, Clone)]
pub struct Reproduction {
    pub repro: Repro,
    pub runs: Vec<Run>,
    /// The report of the first reproducing run.
    pub report: Option<Report>,
    pub signature: Option<Signature>,
    /// The complete stderr of the first reproducing run, the evidence to keep.
    pub output: Option<String>,
}

/// One run's output, unclassified.
#[derive(Debug, Clone)]
pub struct Execution {
    pub exit: ExitKind,
    pub elapsed: Duration,
    pub deadline_exceeded: bool,
    /// Stopped early by its `RunLimits::cancel`.
    pub cancelled: bool,
    pub output: String,
    pub report: Option<Report>,
}

/// How to run a target's binary on single inputs: the campaign's limits,
/// symbolization, priority and deadlines. Shared by reproduction and
/// minimization.
#[derive(Debug, Clone)]
pub struct TargetRunner {
    pub binary: PathBuf,
    /// The campaign's `-rss_limit_mb`, `-malloc_limit_mb`, `-timeout`.
    pub limits: Limits,
    pub extra_args: Vec<ExtraFlag>,
    /// Extra environment, e.g. the `ASAN_OPTIONS` the build asks for
    /// (`detect_odr_violation=0` for Rust); sanitizer options are merged
    /// after fleet-crash's own.
    pub env: Vec<(OsString, OsString)>,
    /// `llvm-symbolizer` for sanitizer stacks; found on the machine by
    /// [`TargetRunner::new`].
    pub symbolizer: Option<PathBuf>,
    /// Per-run bounds. The deadline defaults to twice the timeout plus
    /// 30 s: libFuzzer's own timeout, its report and symbolization fit.
    pub run_limits: RunLimits,
    pub signature: SignatureConfig,
    /// Where each run's scratch working directory is made (the target may
    /// write files); the system temp dir when `None`.
    pub scratch_dir: Option<PathBuf>,
}

impl TargetRunner {
    /// A runner for `binary` with `limits`, the symbolizer found on this
    /// machine, nice 19, and default signatures.
    pub fn new(binary: impl Into<PathBuf>, limits: Limits) -> TargetRunner {
        TargetRunner {
            binary: binary.into(),
            limits,
            extra_args: Vec::new(),
            env: Vec::new(),
            symbolizer: find_symbolizer(),
            run_limits: RunLimits {
                deadline: Duration::from_secs(limits.timeout_s.saturating_mul(2) + 30),
                ..RunLimits::default()
            },
            signature: SignatureConfig::default(),
            scratch_dir: None,
        }
    }

    /// The command of one symbolized run of `input`.
    pub fn command(&self, input: &Path) -> EngineCommand {
        reproduce_command(&ReproduceOptions {
            binary: self.binary.clone(),
            input: input.to_path_buf(),
            runs: 1,
            limits: self.limits,
            extra_args: self.extra_args.clone(),
            env: symbolization_env(self.symbolizer.as_deref(), &self.env),
        })
    }

    /// Runs `input` once and parses its report.
    pub fn execute(&self, input: &Path) -> Result<Execution, RunError> {
        self.execute_command(&self.command(&absolute(input)?), &self.run_limits)
    }

    pub(crate) fn execute_command(
        &self,
        cmd: &EngineCommand,
        limits: &RunLimits,
    ) -> Result<Execution, RunError> {
        let scratch = self.scratch()?;
        let done = run(cmd, scratch.path(), limits)?;
        let report = parse_report(&done.output).or_else(|| {
            (!done.deadline_exceeded)
                .then(|| signal_report(done.exit))
                .flatten()
        });
        Ok(Execution {
            exit: done.exit,
            elapsed: done.elapsed,
            deadline_exceeded: done.deadline_exceeded,
            cancelled: done.cancelled,
            output: done.output,
            report,
        })
    }

    /// Runs `input` `runs` times (at least once), each in a process of its
    /// own. A run reproduces when it crashes with `expected` — the
    /// bucket's signature — or, without one, with the signature of the
    /// first run that crashed. A run that crashes differently counts as
    /// not reproducing: the input no longer shows that bug.
    pub fn reproduce(
        &self,
        input: &Path,
        runs: u32,
        expected: Option<&Signature>,
    ) -> Result<Reproduction, RunError> {
        let cmd = self.command(&absolute(input)?);
        let mut reference = expected.cloned();
        let mut result = Reproduction {
            repro: Repro::Never,
            runs: Vec::new(),
            report: None,
            signature: None,
            output: None,
        };
        for _ in 0..runs.max(1) {
            let exec = self.execute_command(&cmd, &self.run_limits)?;
            let signature = exec
                .report
                .as_ref()
                .map(|r| Signature::of(r, &self.signature));
            let outcome = if exec.deadline_exceeded {
                RunOutcome::DeadlineExceeded
            } else if !is_crash(exec.exit) {
                RunOutcome::NoCrash
            } else {
                match &signature {
                    None => RunOutcome::Unrecognized,
                    Some(sig) => {
                        let reference = reference.get_or_insert_with(|| sig.clone());
                        if sig == reference {
                            RunOutcome::Reproduced
                        } else {
                            RunOutcome::OtherCrash
                        }
                    }
                }
            };
            if outcome == RunOutcome::Reproduced && result.report.is_none() {
                result.report = exec.report;
                result.signature = signature.clone();
                result.output = Some(exec.output);
            }
            result.runs.push(Run {
                outcome,
                exit: exec.exit,
                elapsed: exec.elapsed,
                signature,
            });
        }
        let reproduced = result
            .runs
            .iter()
            .filter(|r| r.outcome == RunOutcome::Reproduced)
            .count();
        result.repro = Repro::of(reproduced, result.runs.len());
        Ok(result)
    }

    fn scratch(&self) -> Result<tempfile::TempDir, RunError> {
        let dir = self.scratch_dir.clone().unwrap_or_else(std::env::temp_dir);
        tempfile::Builder::new()
            .prefix("fleet-crash-")
            .tempdir_in(&dir)
            .map_err(|source| RunError::Io {
                what: "cannot create a scratch directory in",
                path: dir,
                source,
            })
    }
}

/// The report of a run that a fatal signal killed before anything printed
/// one: a target built without a sanitizer whose stack overflowed (the
/// SIGSEGV lands in the overflowed stack, so neither Rust's handler nor
/// libFuzzer's can run; `rust-nosan-stack-overflow.log`), or a crash
/// before libFuzzer installed its handlers. Its kind is `signal:<name>`
/// with no frames, so such crashes of one target share a bucket instead
/// of being lost. SIGKILL is not a crash of the input (the kernel's OOM
/// killer, or someone stopping the run) and gives no report.
pub fn signal_report(exit: ExitKind) -> Option<Report> {
    let ExitKind::Signal(signal) = exit else {
        return None;
    };
    let name = match signal {
        libc::SIGKILL => return None,
        libc::SIGILL => "sigill".to_owned(),
        libc::SIGTRAP => "sigtrap".to_owned(),
        libc::SIGABRT => "sigabrt".to_owned(),
        libc::SIGBUS => "sigbus".to_owned(),
        libc::SIGFPE => "sigfpe".to_owned(),
        libc::SIGSEGV => "sigsegv".to_owned(),
        libc::SIGSYS => "sigsys".to_owned(),
        other => format!("signal-{other}"),
    };
    Some(Report {
        kind: CrashKind::Other {
            tool: "signal".into(),
            error: name,
            access: Access::Unknown,
        },
        tool: "kernel".into(),
        description: format!("killed by signal {signal} without a crash report"),
        frames: Vec::new(),
        panic: None,
        summary: None,
    })
}

/// Exit statuses that mean the input did something wrong. A clean exit
/// with a sanitizer's text in the output (UBSan in recover mode) is not a
/// crash; neither is an interrupted run or a loader failure.
fn is_crash(exit: ExitKind) -> bool {
    matches!(
        exit,
        ExitKind::Crash
            | ExitKind::Timeout
            | ExitKind::Oom
            | ExitKind::SanitizerOrStartupError
            | ExitKind::Signal(_)
    )
}

/// Inputs are passed by absolute path: each run works in a scratch directory.
pub(crate) fn absolute(path: &Path) -> Result<PathBuf, RunError> {
    std::path::absolute(path).map_err(|source| RunError::Io {
        what: "cannot resolve",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_fatal_signal_still_gives_a_report() {
        let report = signal_report(ExitKind::Signal(libc::SIGSEGV)).unwrap();
        assert_eq!(report.kind.to_string(), "signal:sigsegv");
        assert_eq!(signal_report(ExitKind::Signal(libc::SIGKILL)), None);
        assert_eq!(signal_report(ExitKind::Crash), None);
        assert_eq!(
            signal_report(ExitKind::Signal(64))
                .unwrap()
                .kind
                .to_string(),
            "signal:signal-64"
        );
    }

    #[test]
    fn repro_classes() {
        assert_eq!(Repro::of(3, 3), Repro::Always);
        assert_eq!(Repro::of(1, 3), Repro::Sometimes);
        assert_eq!(Repro::of(0, 3), Repro::Never);
        assert_eq!(
            serde_json::to_string(&Repro::Sometimes).unwrap(),
            "\"sometimes\""
        );
    }

    #[test]
    fn command_runs_once_with_limits_and_symbolization() {
        let mut runner = TargetRunner::new(
            "/fz/t",
            Limits {
                rss_limit_mb: 2048,
                malloc_limit_mb: None,
                timeout_s: 5,
            },
        );
        runner.symbolizer = Some("/usr/bin/llvm-symbolizer-14".into());
        let cmd = runner.command(Path::new("/st/crash-aa"));
        assert_eq!(
            cmd.args_lossy(),
            [
                "-rss_limit_mb=2048",
                "-timeout=5",
                "-runs=1",
                "/st/crash-aa"
            ]
        );
        assert!(cmd.env.contains(&("RUST_BACKTRACE".into(), "1".into())));
        assert_eq!(runner.run_limits.deadline, Duration::from_secs(40));
        assert_eq!(runner.run_limits.nice, Some(19));
    }
}
