//! Whole failure reports out of a worker's output, whatever order libFuzzer prints them in: fed the lines in order, says when a report is complete (with its artifact), lost (no artifact before the output ended) or recovered from (UBSan went on).
//!
//! libFuzzer does not print its reports in one order:
//!
//! - a crash or a leak: the sanitizer's or libFuzzer's `ERROR` line, the
//!   stack, `SUMMARY:`, `MS:`, then `Test unit written to …` and `Base64:`;
//! - a timeout: `ALARM:`, `MS:`, the artifact line, `Base64:`, *then*
//!   `==PID== ERROR: libFuzzer: timeout after N seconds`, the stack of the
//!   thread the alarm interrupted and `SUMMARY: libFuzzer: timeout`;
//! - an rss OOM: the `ERROR` line and the heap profile, the artifact line,
//!   then `SUMMARY: libFuzzer: out-of-memory`;
//! - a slow unit: `Slowest unit: N s:` and the artifact line, and fuzzing
//!   goes on.
//!
//! So a report ends, after its artifact line, at the first of: a `SUMMARY:`
//! line (timeout, OOM), the `Base64:` line when the summary came before the
//! artifact (crash, leak), a status line, another artifact line, the final
//! stats, the end of the output. A slow unit's report ends at its artifact
//! line. A report that started (an `ERROR` line, a panic, an `ALARM`) but
//! has no artifact when the output ends was cut off, e.g. by a signal that
//! stopped the worker while it printed: it is [`Assembled::LostReport`].
//!
//! UBSan's `FILE:LINE:COL: runtime error: …` is fatal or recoverable
//! depending on how the harness was built; the output tells which only
//! afterwards: a fatal one is followed at once by libFuzzer's `MS:` line
//! and a `crash-` artifact, so the line after UBSan's `SUMMARY:` decides.

use std::collections::VecDeque;

use super::line::{LogLine, parse_line};
use super::notice::Notice;

/// Lines kept of one report; the rest are counted, so a harness that prints
/// without end cannot make the reader's memory grow.
pub const REPORT_MAX_LINES: usize = 2000;
/// Lines of the output before a report starts that are kept as its context
/// (a harness's own last words before it crashed).
pub const CONTEXT_LINES: usize = 200;

/// The final-stats lines of `-print_final_stats=1`: never part of a report.
const FINAL_STATS: &str = "stat::";
/// The first line libFuzzer prints when it dumps the input that crashed.
const MUTATION_SEQUENCE: &str = "MS: ";
const BASE64: &str = "Base64: ";
const UBSAN: &str = "UndefinedBehaviorSanitizer";

/// What a completed stretch of output was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// libFuzzer wrote the artifact at `path` (as printed); `report` is its
    /// whole report, with the lines before it since the last status line.
    Artifact { path: String, report: String },
    /// A report (libFuzzer or sanitizer `ERROR`, Rust panic, timeout alarm)
    /// that no artifact followed before the output ended: a finding lost.
    LostReport { report: String },
    /// A sanitizer report the target recovered from (UBSan built with
    /// `-fsanitize-recover`): there is no artifact; `location` is UBSan's
    /// `FILE:LINE:COL`.
    Recoverable {
        location: String,
        message: String,
        report: String,
    },
}

/// The line that says what a report is about: its first `ERROR` line, panic or
/// alarm, else its first non-empty line.
pub fn headline(report: &str) -> &str {
    let telling = |l: &&str| {
        matches!(
            parse_line(l),
            Ok(Some(LogLine::Notice(
                Notice::LibFuzzerError { .. }
                    | Notice::SanitizerError { .. }
                    | Notice::Panic { .. }
                    | Notice::Alarm { .. }
                    | Notice::RuntimeError { .. }
            )))
        )
    };
    let mut lines = report.lines();
    lines
        .clone()
        .find(telling)
        .or_else(|| lines.find(|l| !l.trim().is_empty()))
        .unwrap_or("")
}

/// A UBSan report whose fate is not known yet.
#[derive(Debug)]
struct Pending {
    location: String,
    message: String,
    /// Where its lines start in the buffer.
    start: usize,
    /// Its `SUMMARY:` line was seen: the next line decides.
    summarized: bool,
}

/// Assembles reports from one process's output; feed it every line in order, then call
/// [`ReportAssembler::end`] once the output ends.
#[derive(Debug, Default)]
pub struct ReportAssembler {
    lines: VecDeque<String>,
    /// Lines not kept (over the caps) since the last reset.
    dropped: usize,
    /// libFuzzer's driver runs (its seed or a status line was printed): a panic
    /// before is a start-up failure, not a lost finding.
    started: bool,
    /// Fork mode: the parent relays its children's `ERROR` lines with no artifacts.
    fork: bool,
    /// A report started since the last status line.
    reporting: bool,
    /// A `SUMMARY:` line of the current report was seen.
    summarized: bool,
    /// `Slowest unit:` was seen: the next artifact is complete at once.
    slow: bool,
    /// The artifact line was seen; the report goes on until its end.
    artifact: Option<String>,
    /// The artifact came after the summary: only its `Base64:` line may follow.
    tail_only: bool,
    ubsan: Option<Pending>,
}

impl ReportAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one line (without its newline) and returns what it completed.
    pub fn feed(&mut self, line: &str) -> Vec<Assembled> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Lines that do not parse are not report structure; they stay report text.
        let parsed = parse_line(line).ok().flatten();
        let mut out = Vec::new();
        if self.artifact.is_some() {
            let ends_before = match &parsed {
                Some(LogLine::Status(_))
                | Some(LogLine::Notice(Notice::ArtifactWritten { .. })) => true,
                _ => line.starts_with(FINAL_STATS) || (self.tail_only && !line.starts_with(BASE64)),
            };
            if ends_before {
                self.finish_artifact(&mut out);
            } else {
                let ends_here = self.tail_only
                    || matches!(parsed, Some(LogLine::Notice(Notice::Summary { .. })));
                self.push(line);
                if ends_here {
                    self.finish_artifact(&mut out);
                }
                return out;
            }
        }
        if self.ubsan.as_ref().is_some_and(|p| p.summarized) {
            let fatal = line.starts_with(MUTATION_SEQUENCE)
                || matches!(
                    parsed,
                    Some(LogLine::Notice(Notice::ArtifactWritten { .. }))
                );
            if fatal {
                self.ubsan = None;
                self.reporting = true;
                self.summarized = true;
            } else {
                self.finish_recoverable(&mut out);
            }
        }
        match parsed {
            Some(LogLine::Status(_)) => {
                self.finish_recoverable(&mut out);
                self.started = true;
                self.reset();
            }
            Some(LogLine::Notice(notice)) => self.notice(line, notice, &mut out),
            None if line.starts_with(FINAL_STATS) => {}
            None => self.push(line),
        }
        out
    }

    /// Whether a failure report is being written: one started (a panic, a sanitizer's or
    /// libFuzzer's `ERROR`, a timeout) and the process has not gone on fuzzing since.
    /// Signalled now, libFuzzer would stop before (or while) it writes the input, and the
    /// finding would be lost: a graceful stop waits while this holds.
    pub fn writing_report(&self) -> bool {
        !self.fork && (self.reporting || self.artifact.is_some())
    }

    /// The output ended: what it left complete, lost or recovered from.
    pub fn end(&mut self) -> Vec<Assembled> {
        let mut out = Vec::new();
        if self.artifact.is_some() {
            self.finish_artifact(&mut out);
        }
        self.finish_recoverable(&mut out);
        if self.reporting && self.started && !self.fork {
            out.push(Assembled::LostReport {
                report: self.text(0),
            });
        }
        self.reset();
        out
    }

    fn notice(&mut self, line: &str, notice: Notice, out: &mut Vec<Assembled>) {
        match notice {
            Notice::Seed(_) => self.started = true,
            Notice::ForkStarted { .. } => self.fork = true,
            Notice::SlowestUnit { .. } => {
                self.finish_recoverable(out);
                self.reset();
                self.slow = true;
            }
            Notice::ArtifactWritten { path, .. } => {
                // A UBSan report an artifact follows was fatal: it is this report.
                if self.ubsan.take().is_some() {
                    self.reporting = true;
                }
                self.push(line);
                if self.slow {
                    out.push(Assembled::Artifact {
                        path,
                        report: self.text(0),
                    });
                    self.reset();
                } else {
                    self.tail_only = self.summarized;
                    self.artifact = Some(path);
                }
                return;
            }
            Notice::RuntimeError { location, message } => {
                self.finish_recoverable(out);
                self.ubsan = Some(Pending {
                    location,
                    message,
                    start: self.lines.len(),
                    summarized: false,
                });
            }
            Notice::Summary { tool, .. } => match &mut self.ubsan {
                Some(p) if tool == UBSAN => p.summarized = true,
                _ => self.summarized = true,
            },
            Notice::LibFuzzerError { .. }
            | Notice::SanitizerError { .. }
            | Notice::Panic { .. }
            | Notice::Alarm { .. } => {
                // Another report starting means the UBSan one before it was survived.
                self.finish_recoverable(out);
                self.reporting = true;
            }
            _ => {}
        }
        self.push(line);
    }

    fn push(&mut self, line: &str) {
        let in_report = self.reporting || self.artifact.is_some() || self.ubsan.is_some();
        if in_report {
            if self.lines.len() < REPORT_MAX_LINES {
                self.lines.push_back(line.to_owned());
            } else {
                self.dropped += 1;
            }
            return;
        }
        if self.lines.len() >= CONTEXT_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line.to_owned());
    }

    /// The buffer's lines from `start`, with a note of any that were not kept.
    fn text(&self, start: usize) -> String {
        let mut lines: Vec<&str> = self.lines.range(start..).map(String::as_str).collect();
        let note;
        if self.dropped > 0 && start == 0 {
            note = format!("[fuzzfleet: {} lines of output not kept]", self.dropped);
            lines.insert(0, &note);
        }
        lines.join("\n")
    }

    fn finish_artifact(&mut self, out: &mut Vec<Assembled>) {
        if let Some(path) = self.artifact.take() {
            out.push(Assembled::Artifact {
                path,
                report: self.text(0),
            });
        }
        self.reset();
    }

    fn finish_recoverable(&mut self, out: &mut Vec<Assembled>) {
        if let Some(p) = self.ubsan.take() {
            out.push(Assembled::Recoverable {
                report: self.text(p.start),
                location: p.location,
                message: p.message,
            });
            self.lines.truncate(p.start);
        }
    }

    fn reset(&mut self) {
        self.lines.clear();
        self.dropped = 0;
        self.reporting = false;
        self.summarized = false;
        self.slow = false;
        self.artifact = None;
        self.tail_only = false;
        self.ubsan = None;
    }
}
