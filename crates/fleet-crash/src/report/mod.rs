//! Crash reports: what a reproduction's or a worker's output says about one crash (kind, stack, panic, summary), parsed from the real text.

mod frame;
mod parse;

use serde::{Deserialize, Serialize};

use crate::kind::CrashKind;

pub(crate) use frame::has_source_extension;
pub use frame::{parse_backtrace_frame, parse_sanitizer_frame};
pub use parse::{MEMORY_WATCH_OOM, parse_report};

/// One stack frame as the report printed it, symbolized or not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// The function as printed (`six_bugs::lookup`, `lookup`,
    /// `fuzzer::RunOne(unsigned char const*, …)`), `None` when the frame
    /// has only an address.
    pub function: Option<String>,
    /// The source file, when symbolized (as printed: absolute, relative,
    /// or a compile-unit name such as `std.d28b…-cgu.0` without a line).
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The binary or shared library, for frames printed as
    /// `(module+0xoffset)`, without the offset.
    pub module: Option<String>,
}

/// Where a Rust panic happened, as `panicked at FILE:LINE:COL` says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: Option<u32>,
}

/// A Rust panic's message and location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Panic {
    /// The message, every line of it (assert_eq! prints `left:` and
    /// `right:` on lines of their own).
    pub message: String,
    pub location: Option<Location>,
    pub thread: String,
}

/// One parsed crash report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub kind: CrashKind,
    /// The tool that reported it: `AddressSanitizer`, `LeakSanitizer`,
    /// `UndefinedBehaviorSanitizer`, `libFuzzer`, or `rust` for a panic.
    pub tool: String,
    /// The error line's text without the pid prefix
    /// (`heap-buffer-overflow on address 0x… at pc …`, `deadly signal`,
    /// the panic's first message line).
    pub description: String,
    /// The crashing stack, innermost first: for a panic the Rust backtrace
    /// when printed (else libFuzzer's deadly-signal stack), for a leak the
    /// first direct leak's allocation stack, for an rss OOM the largest
    /// live allocation's stack, otherwise the stack under the error line.
    pub frames: Vec<Frame>,
    pub panic: Option<Panic>,
    /// The text of the `SUMMARY: TOOL: TEXT` line after the error.
    pub summary: Option<String>,
}
