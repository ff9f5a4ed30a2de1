//! The report scanner: finds the first crash report in a process's output and reads its kind, stack, panic and summary.

use fleet_engine::libfuzzer::{EngineError, LogLine, Notice, parse_line};

use super::frame::{
    parse_backtrace_at, parse_backtrace_frame, parse_sanitizer_frame, split_location,
};
use super::{Frame, Location, Panic, Report};
use crate::kind::{Access, CrashKind, kebab};
use crate::normalize::last_segment;

/// How far below an error line its stack may start (libFuzzer prints a
/// hint line and a blank line before the malloc-limit stack).
const STACK_SEARCH_LINES: usize = 6;
/// How far below an rss out-of-memory line the heap profile may start.
const HEAP_PROFILE_SEARCH_LINES: usize = 24;
/// Panic messages longer than this many lines are cut (a target can
/// panic with anything).
const MAX_MESSAGE_LINES: usize = 64;

/// Parses the first crash report in `output`: the stderr of a
/// reproduction (`-runs=1 INPUT`) or of a fuzzing worker (status lines and
/// all). Returns `None` when the output holds no crash report at all.
///
/// What counts as the report: a Rust panic (`thread '…' panicked at`; the
/// deadly-signal report libFuzzer prints after it belongs to the same
/// crash), a sanitizer `==PID==ERROR:` report, a UBSan `runtime error:`,
/// or a libFuzzer `ERROR: libFuzzer:` line (deadly signal, timeout,
/// out-of-memory, malloc limit, …). Later reports in the same output (a
/// fork-mode worker's next crash) are ignored. Lines that are not part of
/// a report — status lines, the target's own output — are skipped, even
/// when fleet-engine's line parser rejects them: a garbled status line
/// must not hide a crash.
pub fn parse_report(output: &str) -> Option<Report> {
    let lines: Vec<&str> = output
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut scan = Scan::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if scan.done {
            break;
        }
        if line.starts_with("thread '") && line.ends_with("has overflowed its stack") {
            scan.rust_stack_overflow = true;
        }
        if line.starts_with(MEMORY_WATCH_OOM) {
            let description = line
                .split_once("ERROR: libFuzzer: ")
                .map_or(line, |(_, d)| d);
            scan.memory_watch(&lines, i, description);
            i += 1;
            continue;
        }
        if let Ok(Some(LogLine::Notice(notice))) = parse_line(line) {
            i = scan.notice(&lines, i, notice);
            continue;
        }
        i += 1;
    }
    scan.finish()
}

/// The line fuzzfleet puts before the report of an input that libFuzzer dumped
/// because fuzzfleet's memory watch asked it to (SIGABRT near the worker's memory
/// limit): what follows is libFuzzer's `deadly signal` report, but the bug is an
/// out-of-memory, and the stack under it is where the memory was being taken.
pub const MEMORY_WATCH_OOM: &str = "==fuzzfleet== ERROR: libFuzzer: out-of-memory";

#[derive(Default)]
struct Scan {
    panic: Option<(Panic, Vec<Frame>)>,
    signal_frames: Vec<Frame>,
    rust_stack_overflow: bool,
    primary: Option<Report>,
    summary: Option<String>,
    done: bool,
}

impl Scan {
    /// Handles the notice on line `i`; returns the next line to read.
    fn notice(&mut self, lines: &[&str], i: usize, notice: Notice) -> usize {
        let started = self.panic.is_some() || self.primary.is_some();
        match notice {
            Notice::Panic { thread, location } if !started => {
                return self.read_panic(lines, i, thread, &location);
            }
            Notice::SanitizerError {
                sanitizer,
                description,
                ..
            } if !started => {
                self.primary = Some(sanitizer_report(lines, i, &sanitizer, &description));
            }
            Notice::RuntimeError { location, message } if !started => {
                self.primary = Some(ubsan_report(lines, i, &location, &message));
            }
            Notice::LibFuzzerError { error, .. } => self.engine_error(lines, i, error),
            Notice::Summary { tool, text } if started && self.summary.is_none() => {
                self.summary = Some(format!("{tool}: {text}"));
                self.done = true;
            }
            _ => {}
        }
        i + 1
    }

    fn read_panic(&mut self, lines: &[&str], i: usize, thread: String, location: &str) -> usize {
        let (file, line, column) = split_location(location);
        let location = line.map(|line| Location {
            file: file.to_owned(),
            line,
            column,
        });
        let mut j = i + 1;
        let mut message = Vec::new();
        // Before Rust 1.73: `panicked at 'MESSAGE', FILE:LINE:COL`.
        if let Some((_, old)) = lines[i].split_once("panicked at '") {
            if let Some((msg, _)) = old.rsplit_once("', ") {
                message.push(msg.to_owned());
            }
        } else {
            while j < lines.len() && message.len() < MAX_MESSAGE_LINES && !ends_message(lines[j]) {
                message.push(lines[j].to_owned());
                j += 1;
            }
        }
        let mut frames = Vec::new();
        if lines.get(j).is_some_and(|l| l.trim() == "stack backtrace:") {
            j += 1;
            while j < lines.len() {
                if let Some((_, frame)) = parse_backtrace_frame(lines[j]) {
                    frames.push(frame);
                } else if !frames
                    .last_mut()
                    .is_some_and(|f| parse_backtrace_at(lines[j], f))
                {
                    break;
                }
                j += 1;
            }
        }
        let panic = Panic {
            message: message.join("\n"),
            location,
            thread,
        };
        self.panic = Some((panic, frames));
        j
    }

    /// fuzzfleet's memory-watch line at `i`: an out-of-memory whose stack is the
    /// deadly-signal report's just below.
    fn memory_watch(&mut self, lines: &[&str], i: usize, description: &str) {
        if self.primary.is_some() || self.panic.is_some() {
            return;
        }
        self.primary = Some(Report {
            kind: CrashKind::OutOfMemory,
            tool: "libFuzzer".into(),
            description: description.to_owned(),
            frames: stack_after(lines, i + 1, STACK_SEARCH_LINES),
            panic: None,
            summary: None,
        });
    }

    fn engine_error(&mut self, lines: &[&str], i: usize, error: EngineError) {
        if self.panic.is_some() {
            if error == EngineError::DeadlySignal && self.signal_frames.is_empty() {
                self.signal_frames = stack_after(lines, i + 1, STACK_SEARCH_LINES);
            }
            return;
        }
        if self.primary.is_some() {
            return;
        }
        let description = lines[i]
            .split_once("ERROR: libFuzzer: ")
            .map_or(lines[i], |(_, d)| d)
            .to_owned();
        let mut frames = stack_after(lines, i + 1, STACK_SEARCH_LINES);
        let kind = match error {
            EngineError::DeadlySignal if self.rust_stack_overflow => CrashKind::StackOverflow,
            EngineError::DeadlySignal => CrashKind::DeadlySignal,
            EngineError::Timeout { .. } => CrashKind::Timeout,
            EngineError::OutOfMemoryMalloc { .. } => CrashKind::MallocLimit,
            EngineError::OutOfMemoryRss { .. } => {
                frames = heap_profile_stack(lines, i + 1);
                CrashKind::OutOfMemory
            }
            EngineError::FuzzTargetExited => other("libfuzzer", "fuzz target exited"),
            EngineError::FileSizeExceeded => other("libfuzzer", "file size exceeded"),
            EngineError::OverwritesConstInput => other("libfuzzer", "overwrites const input"),
            EngineError::Other(what) => other("libfuzzer", &what),
        };
        self.primary = Some(Report {
            kind,
            tool: "libFuzzer".into(),
            description,
            frames,
            panic: None,
            summary: None,
        });
    }

    fn finish(self) -> Option<Report> {
        if let Some((panic, backtrace)) = self.panic {
            let frames = if backtrace.is_empty() {
                self.signal_frames
            } else {
                qualify(backtrace, &self.signal_frames)
            };
            let description = panic.message.lines().next().unwrap_or_default().to_owned();
            return Some(Report {
                kind: CrashKind::Panic,
                tool: "rust".into(),
                description,
                frames,
                panic: Some(panic),
                summary: self.summary,
            });
        }
        if let Some(mut report) = self.primary {
            report.summary = self.summary;
            return Some(report);
        }
        self.rust_stack_overflow.then(|| Report {
            kind: CrashKind::StackOverflow,
            tool: "rust".into(),
            description: "stack overflow".into(),
            frames: Vec::new(),
            panic: None,
            summary: None,
        })
    }
}

fn other(tool: &str, error: &str) -> CrashKind {
    CrashKind::Other {
        tool: tool.into(),
        error: kebab(error),
        access: Access::Unknown,
    }
}

/// Whether a line ends a panic message: the backtrace header, a note,
/// libFuzzer's or a sanitizer's next report, or a blank line.
fn ends_message(line: &str) -> bool {
    line.trim() == "stack backtrace:"
        || line.is_empty()
        || line.starts_with("note: ")
        || line.starts_with("==")
        || line.starts_with("thread '")
        || line.starts_with("SUMMARY: ")
        || line.ends_with(":DEADLYSIGNAL")
}

/// A sanitizer's `==PID==ERROR: TOOL: DESCRIPTION` report at line `i`.
fn sanitizer_report(lines: &[&str], i: usize, tool: &str, description: &str) -> Report {
    let summary_error = lines[i + 1..]
        .iter()
        .find_map(|l| {
            l.strip_prefix("SUMMARY: ")?
                .strip_prefix(tool)?
                .strip_prefix(": ")
        })
        .and_then(|text| text.split_whitespace().next());
    let (kind, frames) =
        if tool == "LeakSanitizer" || description.starts_with("detected memory leaks") {
            (CrashKind::Leak, leak_stack(lines, i + 1))
        } else {
            let error = summary_error
                .map(str::to_owned)
                .unwrap_or_else(|| error_of_description(description));
            let access = access_after(lines, i + 1);
            (
                CrashKind::from_sanitizer(tool, &error, access),
                stack_after(lines, i + 1, STACK_SEARCH_LINES),
            )
        };
    Report {
        kind,
        tool: tool.to_owned(),
        description: description.to_owned(),
        frames,
        panic: None,
        summary: None,
    }
}

/// The error name from an `ERROR:` description when there is no
/// `SUMMARY:` line (a cut-off log): `heap-buffer-overflow on address …`.
fn error_of_description(description: &str) -> String {
    if description.starts_with("attempting double-free") {
        return "double-free".into();
    }
    if description.starts_with("attempting free on address which was not malloc()-ed") {
        return "bad-free".into();
    }
    if description.starts_with("requested allocation size") {
        return "allocation-size-too-big".into();
    }
    if description.starts_with("allocator is out of memory") {
        return "out-of-memory".into();
    }
    description
        .split_whitespace()
        .next()
        .unwrap_or("unknown-crash")
        .to_owned()
}

/// `READ of size N at …` / `WRITE of size …` or, for a SEGV,
/// `==PID==The signal is caused by a READ memory access.`, just below the
/// error line.
fn access_after(lines: &[&str], from: usize) -> Access {
    for line in lines.iter().skip(from).take(3) {
        let word = if let Some((_, rest)) = line.split_once("The signal is caused by a ") {
            rest.split_whitespace().next()
        } else {
            line.split_once(" of size ").map(|(w, _)| w.trim())
        };
        if let Some(word) = word {
            return Access::from_sanitizer_word(word);
        }
    }
    Access::Unknown
}

/// UBSan's `FILE:LINE:COL: runtime error: MESSAGE` at line `i`, with the
/// stack UBSan prints under it when `print_stacktrace=1`.
fn ubsan_report(lines: &[&str], i: usize, location: &str, message: &str) -> Report {
    // `signed integer overflow: …` and `load of misaligned address 0x… for type …`
    // alike: the words that name the behaviour, without values.
    let category = crate::recoverable::message_class(message);
    let mut frames = stack_after(lines, i + 1, 1);
    if frames.is_empty() {
        let (file, line, column) = split_location(location);
        frames.push(Frame {
            function: None,
            file: Some(file.to_owned()),
            line,
            column,
            module: None,
        });
    }
    Report {
        kind: other("ubsan", &category),
        tool: "UndefinedBehaviorSanitizer".into(),
        description: message.to_owned(),
        frames,
        panic: None,
        summary: None,
    }
}

/// The first stack (`#0`, `#1`, …) starting within `window` lines of `from`.
fn stack_after(lines: &[&str], from: usize, window: usize) -> Vec<Frame> {
    let end = lines.len().min(from + window);
    (from..end)
        .find(|&j| parse_sanitizer_frame(lines[j]).is_some_and(|(n, _)| n == 0))
        .map(|start| read_stack(lines, start))
        .unwrap_or_default()
}

fn read_stack(lines: &[&str], start: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    // Frame numbers count up from 0 by one (ASan numbers inlined frames
    // too); anything else, including the next stack's #0, ends this one.
    for line in &lines[start..] {
        match parse_sanitizer_frame(line) {
            Some((n, frame)) if n == frames.len() => frames.push(frame),
            _ => break,
        }
    }
    frames
}

/// LeakSanitizer: the allocation stack of the first direct leak, else of
/// the first indirect one.
fn leak_stack(lines: &[&str], from: usize) -> Vec<Frame> {
    let find = |prefix: &str| {
        lines[from..]
            .iter()
            .position(|l| l.starts_with(prefix))
            .map(|p| stack_after(lines, from + p + 1, 2))
    };
    find("Direct leak of")
        .or_else(|| find("Indirect leak of"))
        .unwrap_or_default()
}

/// An rss out-of-memory report: the stack of the largest live allocation
/// context (`N byte(s) (P%) in K allocation(s)`), listed first.
fn heap_profile_stack(lines: &[&str], from: usize) -> Vec<Frame> {
    let end = lines.len().min(from + HEAP_PROFILE_SEARCH_LINES);
    (from..end)
        .find(|&j| lines[j].contains(" byte(s) (") && lines[j].contains(" allocation(s)"))
        .map(|j| stack_after(lines, j + 1, 2))
        .unwrap_or_default()
}

/// Gives Rust-backtrace frames the qualified names of the deadly-signal
/// stack: with line tables only, std's backtrace prints `lookup` where
/// llvm-symbolizer prints `six_bugs::lookup`. Frames match on file, line,
/// column and the last path segment.
fn qualify(mut frames: Vec<Frame>, signal: &[Frame]) -> Vec<Frame> {
    let named: Vec<(&Frame, &str, String)> = signal
        .iter()
        .filter_map(|s| {
            let f = s.function.as_deref()?;
            Some((s, f, last_segment(f)))
        })
        .collect();
    for frame in &mut frames {
        let (Some(func), Some(_)) = (&frame.function, &frame.file) else {
            continue;
        };
        let short = last_segment(func);
        let better = named.iter().find(|(s, f, last)| {
            s.file == frame.file
                && s.line == frame.line
                && s.column == frame.column
                && f.len() > func.len()
                && *last == short
        });
        if let Some((_, name, _)) = better {
            frame.function = Some((*name).to_owned());
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_clean_output_has_no_report() {
        assert_eq!(parse_report(""), None);
        assert_eq!(
            parse_report(
                "INFO: Seed: 1\n#2\tINITED cov: 2 ft: 2 corp: 1/1b exec/s: 0 rss: 30Mb\nDone 2 runs in 0 second(s)\n"
            ),
            None
        );
    }

    #[test]
    fn stack_numbers_restart_at_the_next_stack() {
        let text = "==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1 at pc 0x2\nREAD of size 4 at 0x1 thread T0\n    #0 0x1 in a /x/a.c:1:1\n    #1 0x2 in b /x/a.c:2:1\n    #0 0x3 in c /x/a.c:3:1\n\nSUMMARY: AddressSanitizer: heap-use-after-free /x/a.c:1:1 in a\n";
        let r = parse_report(text).unwrap();
        assert_eq!(r.kind, CrashKind::UseAfterFree(Access::Read));
        assert_eq!(r.frames.len(), 2);
        assert_eq!(
            r.summary.as_deref(),
            Some("AddressSanitizer: heap-use-after-free /x/a.c:1:1 in a")
        );
    }

    #[test]
    fn old_style_panic_message_is_inline() {
        let r = parse_report(
            "thread 'main' panicked at 'boom 7', src/x.rs:3:9\nnote: run with `RUST_BACKTRACE=1`\n",
        )
        .unwrap();
        let p = r.panic.unwrap();
        assert_eq!(p.message, "boom 7");
        assert_eq!(p.location.unwrap().line, 3);
    }
}
