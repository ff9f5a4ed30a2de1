//! How a libFuzzer process ended, from its exit code or signal.

use std::fmt;

use super::quirks::{
    EXIT_CRASH, EXIT_INTERRUPTED, EXIT_OOM, EXIT_SANITIZER_OR_STARTUP, EXIT_TIMEOUT,
};

/// Every way a libFuzzer process can end, as the supervisor's restart
/// policy and the crash pipeline need to tell them apart.
///
/// The exit status alone cannot tell a leak from a crash (both exit 77),
/// nor a sanitizer report from a refusal to start (both exit 1): that
/// takes the artifact ([`classify_artifact`](super::classify_artifact))
/// or the log ([`parse_line`](super::parse_line)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitKind {
    /// Exit 0: `-runs` or `-max_total_time` reached, a replay or merge done.
    Done,
    /// Exit 77: libFuzzer reported a bug (deadly signal, Rust panic, leak,
    /// target called `exit`); in fork mode, the last child's crash.
    Crash,
    /// Exit 70: an input ran past `-timeout`.
    Timeout,
    /// Exit 71: `-rss_limit_mb` or `-malloc_limit_mb` exceeded.
    Oom,
    /// Exit 72: SIGINT or SIGTERM handled, final stats printed.
    Interrupted,
    /// Exit 1: a sanitizer report (ASan & co. exit 1 after the `crash-`
    /// artifact is written) or libFuzzer refusing to start.
    SanitizerOrStartupError,
    /// Killed by this signal without libFuzzer handling it: SIGKILL (the
    /// kernel's OOM killer, a hard stop), or a signal before libFuzzer's
    /// handlers are installed (a panic in the target's init aborts:
    /// SIGABRT, `startup-init-panic.log`).
    Signal(i32),
    /// Any other exit code, e.g. 127 from the dynamic loader.
    Other(i32),
    /// Neither a code nor a signal was known.
    Unknown,
}

/// Classifies an exit status given as `ExitStatus::code()` and
/// `ExitStatusExt::signal()`. A signal wins if both are given.
pub fn classify_exit(code: Option<i32>, signal: Option<i32>) -> ExitKind {
    match (code, signal) {
        (_, Some(sig)) => ExitKind::Signal(sig),
        (Some(0), None) => ExitKind::Done,
        (Some(EXIT_CRASH), None) => ExitKind::Crash,
        (Some(EXIT_TIMEOUT), None) => ExitKind::Timeout,
        (Some(EXIT_OOM), None) => ExitKind::Oom,
        (Some(EXIT_INTERRUPTED), None) => ExitKind::Interrupted,
        (Some(EXIT_SANITIZER_OR_STARTUP), None) => ExitKind::SanitizerOrStartupError,
        (Some(code), None) => ExitKind::Other(code),
        (None, None) => ExitKind::Unknown,
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Done => f.write_str("done"),
            ExitKind::Crash => write!(f, "crash (exit {EXIT_CRASH})"),
            ExitKind::Timeout => write!(f, "timeout (exit {EXIT_TIMEOUT})"),
            ExitKind::Oom => write!(f, "out of memory (exit {EXIT_OOM})"),
            ExitKind::Interrupted => write!(f, "interrupted (exit {EXIT_INTERRUPTED})"),
            ExitKind::SanitizerOrStartupError => {
                write!(
                    f,
                    "sanitizer report or start-up error (exit {EXIT_SANITIZER_OR_STARTUP})"
                )
            }
            ExitKind::Signal(sig) => write!(f, "killed by signal {sig}"),
            ExitKind::Other(code) => write!(f, "exit {code}"),
            ExitKind::Unknown => f.write_str("unknown exit status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_signals() {
        assert_eq!(classify_exit(Some(0), None), ExitKind::Done);
        assert_eq!(classify_exit(Some(77), None), ExitKind::Crash);
        assert_eq!(classify_exit(Some(70), None), ExitKind::Timeout);
        assert_eq!(classify_exit(Some(71), None), ExitKind::Oom);
        assert_eq!(classify_exit(Some(72), None), ExitKind::Interrupted);
        assert_eq!(
            classify_exit(Some(1), None),
            ExitKind::SanitizerOrStartupError
        );
        assert_eq!(classify_exit(Some(127), None), ExitKind::Other(127));
        assert_eq!(classify_exit(None, Some(9)), ExitKind::Signal(9));
        assert_eq!(classify_exit(Some(0), Some(6)), ExitKind::Signal(6));
        assert_eq!(classify_exit(None, None), ExitKind::Unknown);
        assert_eq!(ExitKind::Signal(6).to_string(), "killed by signal 6");
    }
}
