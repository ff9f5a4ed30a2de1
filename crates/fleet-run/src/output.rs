//! The libFuzzer adapter as the supervisor uses it: what one line of worker output means
//! to the reader thread, and the engine's types re-exported under one roof.

use std::path::PathBuf;

pub use fleet_engine::FindingKind;
pub use fleet_engine::libfuzzer::{
    ExitKind, ExtraFlag, LibFuzzerOptions, Status, StatusEvent, classify_artifact, classify_exit,
    worker_command,
};
use fleet_engine::libfuzzer::{LogLine, Notice, parse_line};

/// The final-stats line with the exact execution count.
const FINAL_EXECS: &str = "stat::number_of_executed_units:";

/// What the reader thread does with a line.
#[derive(Debug)]
pub enum LineKind {
    Status(Box<Status>),
    /// libFuzzer finished writing an artifact at this path.
    ArtifactWritten(PathBuf),
    /// `stat::number_of_executed_units: N` from `-print_final_stats=1`: the exact count
    /// at exit (status lines only come at new coverage and at powers of two).
    FinalExecs(u64),
    /// A line shaped like engine status that did not parse: reported, never a zero.
    Unparsed(String),
    /// Anything else: the target's own output, report lines, stack frames.
    Other,
}

/// Classifies one line of worker output (without its newline).
pub fn classify_line(line: &str) -> LineKind {
    if let Some(n) = line.strip_prefix(FINAL_EXECS) {
        return match n.trim().parse() {
            Ok(n) => LineKind::FinalExecs(n),
            Err(_) => LineKind::Unparsed(format!("bad final stats line: {line}")),
        };
    }
    match parse_line(line) {
        Ok(Some(LogLine::Status(s))) => LineKind::Status(Box::new(s)),
        Ok(Some(LogLine::Notice(Notice::ArtifactWritten { path, .. }))) => {
            LineKind::ArtifactWritten(PathBuf::from(path))
        }
        Ok(_) => LineKind::Other,
        // A worker stopped by a signal mid-line: its status line and libFuzzer's
        // `==PID== libFuzzer: run interrupted; exiting` run together. Not engine output
        // gone wrong.
        Err(_) if line.contains(INTERRUPTED) => LineKind::Other,
        Err(e) => LineKind::Unparsed(e.to_string()),
    }
}

/// What libFuzzer's SIGINT/SIGTERM handler prints (FuzzerLoop.cpp, `InterruptCallback`).
const INTERRUPTED: &str = "libFuzzer: run interrupted; exiting";

/// Whether a status line is libFuzzer's `INITED`: the seed corpus is loaded, fuzzing starts.
pub fn is_inited(status: &Status) -> bool {
    status.event == StatusEvent::Inited
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_status_artifacts_and_other_lines() {
        assert!(matches!(
            classify_line("#2\tINITED cov: 7 ft: 8 corp: 1/1b exec/s: 0 rss: 30Mb"),
            LineKind::Status(s) if is_inited(&s)
        ));
        assert!(matches!(
            classify_line("artifact_prefix='/s/incoming/t/'; Test unit written to /s/incoming/t/crash-abc"),
            LineKind::ArtifactWritten(p) if p == std::path::Path::new("/s/incoming/t/crash-abc")
        ));
        assert!(matches!(
            classify_line("hello from the target"),
            LineKind::Other
        ));
        assert!(matches!(
            classify_line("#12\tNEW cov: x"),
            LineKind::Unparsed(_)
        ));
        // A status line cut by a signal stop, as seen in a real run.
        assert!(matches!(
            classify_line(
                "#379\tREDUCE cov: 17 ft: 230 corp: 145/1421b lim: 27 exec/s: 0==17352== libFuzzer: run interrupted; exiting"
            ),
            LineKind::Other
        ));
    }
}
