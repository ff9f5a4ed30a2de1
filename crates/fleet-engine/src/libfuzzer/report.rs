//! Lines of failure reports: libFuzzer's and the sanitizers' `==PID==` errors and Rust panics.

use super::error::{ParseErrorKind, bad, number};
use super::notice::Notice;
use super::status::megabytes;

/// What libFuzzer itself reported in an `ERROR: libFuzzer:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// A fatal signal; a Rust panic aborts and lands here.
    DeadlySignal,
    Timeout {
        seconds: u64,
    },
    /// The rss limit (`limit:`; older runtimes print `exceeds:`).
    OutOfMemoryRss {
        used_mb: u64,
        limit_mb: u64,
    },
    /// One allocation above `-malloc_limit_mb`.
    OutOfMemoryMalloc {
        bytes: u64,
    },
    FuzzTargetExited,
    FileSizeExceeded,
    OverwritesConstInput,
    Other(String),
}

/// Lines starting `==PID==`: libFuzzer's own (`==1== ERROR: libFuzzer: …`,
/// with a space) and the sanitizers' (`==1==ERROR: AddressSanitizer: …`).
pub(crate) fn parse_pid_line(rest: &str) -> Result<Option<Notice>, ParseErrorKind> {
    let Some((pid, text)) = rest.split_once("==") else {
        return Ok(None);
    };
    let Ok(pid) = number::<u64>("pid", pid) else {
        return Ok(None);
    };
    let text = text.trim_start();
    if let Some(report) = text.strip_prefix("ERROR: ") {
        let (tool, description) = report
            .split_once(": ")
            .ok_or_else(|| bad("ERROR", report))?;
        if tool == "libFuzzer" {
            let error = parse_engine_error(description)?;
            return Ok(Some(Notice::LibFuzzerError {
                pid: Some(pid),
                error,
            }));
        }
        return Ok(Some(Notice::SanitizerError {
            pid,
            sanitizer: tool.to_owned(),
            description: description.to_owned(),
        }));
    }
    if text.starts_with("libFuzzer: run interrupted") {
        return Ok(Some(Notice::Interrupted { pid }));
    }
    Ok(None)
}

pub(crate) fn parse_engine_error(what: &str) -> Result<EngineError, ParseErrorKind> {
    if what == "deadly signal" {
        return Ok(EngineError::DeadlySignal);
    }
    if let Some(rest) = what.strip_prefix("timeout after ") {
        let n = rest
            .strip_suffix(" seconds")
            .ok_or_else(|| bad("timeout", what))?;
        return Ok(EngineError::Timeout {
            seconds: number("timeout", n)?,
        });
    }
    if let Some(rest) = what.strip_prefix("out-of-memory (") {
        let rest = rest
            .strip_suffix(')')
            .ok_or_else(|| bad("out-of-memory", what))?;
        if let Some(bytes) = rest
            .strip_prefix("malloc(")
            .and_then(|r| r.strip_suffix(')'))
        {
            return Ok(EngineError::OutOfMemoryMalloc {
                bytes: number("out-of-memory", bytes)?,
            });
        }
        let (used, limit) = rest
            .strip_prefix("used: ")
            .and_then(|r| {
                r.split_once("; limit: ")
                    .or_else(|| r.split_once("; exceeds: "))
            })
            .ok_or_else(|| bad("out-of-memory", what))?;
        return Ok(EngineError::OutOfMemoryRss {
            used_mb: megabytes("out-of-memory used", used)?,
            limit_mb: megabytes("out-of-memory limit", limit)?,
        });
    }
    Ok(match what {
        "fuzz target exited" => EngineError::FuzzTargetExited,
        "file size exceeded" => EngineError::FileSizeExceeded,
        "fuzz target overwrites its const input" => EngineError::OverwritesConstInput,
        other => EngineError::Other(other.to_owned()),
    })
}

/// A Rust panic message's first line; other `thread '…'` lines are not ours.
pub(crate) fn parse_panic(rest: &str) -> Result<Option<Notice>, ParseErrorKind> {
    let Some((thread, rest)) = rest.split_once("' ") else {
        return Ok(None);
    };
    // Recent Rust prints the thread id: `thread 'main' (1234) panicked at`.
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(") ").map_or(r, |(_, after)| after),
        None => rest,
    };
    let Some(at) = rest.strip_prefix("panicked at ") else {
        return Ok(None);
    };
    // Before Rust 1.73 the message came first: `panicked at 'msg', src/x.rs:1:2`.
    let location = match at.strip_prefix('\'') {
        Some(old) => old.rsplit_once("', ").ok_or_else(|| bad("panic", at))?.1,
        None => at.strip_suffix(':').unwrap_or(at),
    };
    if location.is_empty() {
        return Err(bad("panic", at));
    }
    Ok(Some(Notice::Panic {
        thread: thread.to_owned(),
        location: location.to_owned(),
    }))
}
