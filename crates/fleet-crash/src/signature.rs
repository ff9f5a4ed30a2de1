//! Signatures: what makes two crashes the same bug (kind, top meaningful frames, Rust panic location and normalized message), and a human title.
//!
//! # Rules, and why
//!
//! - **Kind** (with READ/WRITE) always: a read and a write overflow in
//!   one function are different bugs with different severities.
//! - **Frames** are identified by the last segment of the function name
//!   plus the base name of its source file (`lookup@six_bugs.rs`): never
//!   addresses, offsets, line numbers, directories, symbol hashes, generic
//!   arguments or closure numbers. The last segment is what both Rust
//!   backtraces (which print inlined and line-table-only frames as
//!   `lookup`) and llvm-symbolizer (`six_bugs::lookup`) agree on.
//! - **Sanitizer, signal, timeout, OOM and leak reports**: the top
//!   [`SignatureConfig::frames`] (default 3) meaningful frames, as
//!   ClusterFuzz does: in C the caller often decides the bad argument, so
//!   the frames under a generic helper matter. Deeper callers are left
//!   out, so one bug reached by different paths stays one bucket unless
//!   the paths differ within the top three.
//! - **Rust panics**: the panic location's file (no line: any edit above
//!   the function would move it), the normalized message, and only the
//!   top [`SignatureConfig::panic_frames`] (default 1) meaningful frame —
//!   the function that panicked. The location and message already pin the
//!   site; its callers are context, so one bug reached through two callers
//!   is one bucket. Two asserts in one function are two buckets because
//!   their messages differ (`assertion failed: COND` keeps the condition's
//!   source text; custom messages keep their words). What this cannot
//!   tell apart — two `assert_eq!`s with the same operands' text and no
//!   message, or two identical index expressions in one function — a
//!   person splits by line with a [`Rules`](crate::Rules) split.
//! - **Stack overflow**: the distinct frames that recur within the top of
//!   the stack (the recursion cycle), sorted: where in the cycle the stack
//!   ran out differs from input to input; which functions recurse does not.
//! - When no frame is meaningful, the top named frames are used, so that
//!   unrelated bugs in runtime code do not all fall into one bucket.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::frames::meaningful_frames;
use crate::id::BucketId;
use crate::kind::CrashKind;
use crate::normalize::{clean_function, frame_key, normalize_message, normalize_path};
use crate::report::{Frame, Report};

/// Version of the signature rules, part of every bucket id: bump it when
/// a change to the rules would give existing bugs new ids.
pub const SIGNATURE_VERSION: u32 = 1;

/// How many frames of the recursion a stack-overflow signature looks at.
const RECURSION_WINDOW: usize = 64;

/// Signature settings. The defaults are the rules documented on this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureConfig {
    /// Meaningful frames in sanitizer, signal, timeout, OOM, leak and
    /// stack-overflow signatures.
    pub frames: usize,
    /// Meaningful frames in Rust panic signatures.
    pub panic_frames: usize,
}

impl Default for SignatureConfig {
    fn default() -> Self {
        Self {
            frames: 3,
            panic_frames: 1,
        }
    }
}

/// What makes two crashes the same bug. Equal signatures (of the same
/// target) are one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    pub kind: CrashKind,
    /// Frame keys (`function@file.rs`), innermost first.
    pub frames: Vec<String>,
    /// A panic's normalized source file, without line or column.
    pub location: Option<String>,
    /// A panic's or UBSan's normalized message.
    pub message: Option<String>,
}

impl Signature {
    /// The signature of `report` under `config`.
    pub fn of(report: &Report, config: &SignatureConfig) -> Signature {
        Signature::with_frames(report, &meaningful_frames(&report.frames), config)
    }

    /// [`Signature::of`] with the report's meaningful frames already known.
    pub(crate) fn with_frames(
        report: &Report,
        meaningful: &[&Frame],
        config: &SignatureConfig,
    ) -> Signature {
        let keys = |frames: &[&Frame], n: usize| -> Vec<String> {
            frames.iter().filter_map(|f| frame_key(f)).take(n).collect()
        };
        let mut frames = match &report.kind {
            CrashKind::Panic => keys(meaningful, config.panic_frames),
            CrashKind::StackOverflow => recursion(meaningful, config.frames),
            _ => keys(meaningful, config.frames),
        };
        if frames.is_empty() {
            let named: Vec<&Frame> = report.frames.iter().collect();
            frames = keys(&named, config.frames);
        }
        let (location, message) = match &report.panic {
            Some(panic) => (
                panic.location.as_ref().map(|l| normalize_path(&l.file)),
                Some(normalize_message(&panic.message)),
            ),
            // UBSan without `print_stacktrace=1` gives no frame, only its location:
            // the location (file and line) tells two sites with one message apart.
            None if report.tool == "UndefinedBehaviorSanitizer" => (
                frames
                    .is_empty()
                    .then(|| source_line(&report.frames))
                    .flatten(),
                Some(normalize_message(&report.description)),
            ),
            None => (None, None),
        };
        Signature {
            kind: report.kind.clone(),
            frames,
            location,
            message,
        }
    }

    /// The canonical text hashed into bucket ids: versioned, one field per
    /// line, so no message can imitate another field.
    pub fn canonical(&self) -> String {
        let mut text = format!(
            "fuzzfleet-signature-v{SIGNATURE_VERSION}\nkind={}\n",
            self.kind
        );
        for frame in &self.frames {
            text.push_str("frame=");
            text.push_str(frame);
            text.push('\n');
        }
        if let Some(location) = &self.location {
            text.push_str(&format!("location={location}\n"));
        }
        if let Some(message) = &self.message {
            text.push_str(&format!("message={}\n", message.replace('\n', " ")));
        }
        text
    }

    /// The bucket id of this signature in `target`. The target is part of
    /// the id because a bucket belongs to one target (the contract's
    /// `crashes list` has one `target` per bucket), and because the fuzz
    /// body of every Rust target is called `__libfuzzer_sys_run`.
    pub fn bucket_id(&self, target: &str) -> BucketId {
        BucketId::of_text(&format!("target={target}\n{}", self.canonical()))
    }
}

/// One line for tables and the `signature` field of `crashes list --json`:
/// `panic | lookup@six_bugs.rs | fuzz_targets/six_bugs.rs | index out of bounds: …`.
impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.frames.is_empty() {
            write!(f, " | {}", self.frames.join(" < "))?;
        }
        if let Some(location) = &self.location {
            write!(f, " | {location}")?;
        }
        if let Some(message) = &self.message {
            write!(f, " | {message}")?;
        }
        Ok(())
    }
}

/// `file:line` of the first frame that has them, the file normalized.
fn source_line(frames: &[Frame]) -> Option<String> {
    frames.iter().find_map(|f| {
        let file = f.file.as_deref()?;
        Some(format!("{}:{}", normalize_path(file), f.line?))
    })
}

/// The distinct recurring frames near the top of an overflowed stack, sorted.
fn recursion(frames: &[&Frame], n: usize) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for key in frames
        .iter()
        .take(RECURSION_WINDOW)
        .filter_map(|f| frame_key(f))
    {
        *seen.entry(key).or_default() += 1;
    }
    let recurring: Vec<String> = seen
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(key, _)| key)
        .take(n)
        .collect();
    if recurring.is_empty() {
        frames.iter().filter_map(|f| frame_key(f)).take(n).collect()
    } else {
        recurring
    }
}

/// Messages whose part before `: ` says it all (the rest is data).
const TITLE_PREFIXES: &[&str] = &[
    "index out of bounds",
    "range end index",
    "range start index",
    "slice index starts",
    "byte index",
];

/// Longest message part of a title, in characters.
const MAX_TITLE_MESSAGE: usize = 80;

/// A short human title: `panic: index out of bounds in six_bugs::lookup`,
/// `heap-buffer-overflow WRITE in store_record`, `timeout in hang::__libfuzzer_sys_run`.
/// The function is the top meaningful frame's, as fully qualified as the
/// report gives it.
pub fn title(report: &Report) -> String {
    title_with_frames(report, &meaningful_frames(&report.frames))
}

/// [`title`] with the report's meaningful frames already known.
pub(crate) fn title_with_frames(report: &Report, meaningful: &[&Frame]) -> String {
    let top = meaningful
        .first()
        .copied()
        .or_else(|| report.frames.iter().find(|f| f.function.is_some()));
    let function = top.and_then(|f| f.function.as_deref()).map(clean_function);
    let what = match &report.panic {
        Some(panic) => {
            let message = normalize_message(&panic.message);
            let short = TITLE_PREFIXES
                .iter()
                .find(|p| message.starts_with(*p))
                .map_or(message.as_str(), |p| *p);
            let short = match short.char_indices().nth(MAX_TITLE_MESSAGE) {
                Some((i, _)) => format!("{}…", &short[..i]),
                None => short.to_owned(),
            };
            format!("panic: {short}")
        }
        None => report.kind.label(),
    };
    match function {
        Some(function) => format!("{what} in {function}"),
        // A report with only a source location (UBSan without a stack).
        None => match source_line(&report.frames) {
            Some(at) => format!("{what} at {at}"),
            None => what,
        },
    }
}
