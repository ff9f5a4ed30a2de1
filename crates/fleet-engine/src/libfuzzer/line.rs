//! One entry point for a line of libFuzzer output: a status line, a classified notice, or nothing fuzzfleet needs.

use super::error::ParseError;
use super::notice::{Notice, parse_notice};
use super::status::{Status, looks_like_status, parse_status};

/// A line of libFuzzer output that fuzzfleet reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    Status(Status),
    Notice(Notice),
}

/// Parses one line of a worker's output (without its newline; a trailing
/// `\r` is ignored).
///
/// Returns `Ok(None)` for lines fuzzfleet does not need (the target's own
/// output, stack frames, dictionaries, …). A line shaped like a status
/// line (`#` digits, then a tab or a colon) or starting like a known
/// notice but malformed is an `Err`: it is never read as zeros.
pub fn parse_line(line: &str) -> Result<Option<LogLine>, ParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let parsed = if looks_like_status(line) {
        parse_status(line).map(|s| Some(LogLine::Status(s)))
    } else {
        parse_notice(line).map(|n| n.map(LogLine::Notice))
    };
    parsed.map_err(|kind| ParseError::new(line, kind))
}
