//! What kind of bug a report shows (`heap-buffer-overflow-write`, `panic`, `timeout`, …), with one stable name per kind.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whether a memory error read or wrote, as the sanitizer says (`READ of
/// size 4`, `The signal is caused by a WRITE memory access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
    /// The report did not say (or said `UNKNOWN memory access`).
    Unknown,
}

impl Access {
    fn suffix(self) -> &'static str {
        match self {
            Access::Read => "-read",
            Access::Write => "-write",
            Access::Unknown => "",
        }
    }

    /// `READ` / `WRITE` / `UNKNOWN` as sanitizers print them.
    pub fn from_sanitizer_word(word: &str) -> Access {
        match word {
            "READ" => Access::Read,
            "WRITE" => Access::Write,
            _ => Access::Unknown,
        }
    }
}

/// The kind of a crash: the first part of its signature and what its
/// severity is derived from.
///
/// Each kind has one stable name (its `Display`, `FromStr` and serde form):
/// `heap-buffer-overflow-read`, `heap-use-after-free-write`, `double-free`,
/// `bad-free`, `segv-read`, `stack-overflow`, `deadly-signal`, `panic`,
/// `timeout`, `out-of-memory`, `malloc-limit`, `leak`, and for every other
/// sanitizer error `<tool>:<error>` (`asan:stack-use-after-return`,
/// `ubsan:signed-integer-overflow`, `libfuzzer:fuzz-target-exited`).
/// The names are part of signatures and bucket ids: never rename one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CrashKind {
    HeapBufferOverflow(Access),
    StackBufferOverflow(Access),
    GlobalBufferOverflow(Access),
    /// ASan's `heap-use-after-free`.
    UseAfterFree(Access),
    DoubleFree,
    /// ASan's `attempting free on address which was not malloc()-ed`.
    BadFree,
    /// A wild access (`SEGV on unknown address`), including null derefs.
    Segv(Access),
    /// ASan's `stack-overflow`, or Rust's own "has overflowed its stack".
    StackOverflow,
    /// Any other sanitizer or engine error; `tool` is a short lowercase
    /// name (`asan`, `ubsan`, `msan`, `lsan`, `libfuzzer`) and `error` its
    /// kebab-case error name.
    Other {
        tool: String,
        error: String,
        access: Access,
    },
    /// libFuzzer caught a fatal signal that no sanitizer and no Rust panic
    /// explained (an `abort()` from a C `assert`, a SIGSEGV without ASan).
    DeadlySignal,
    /// A Rust panic (libfuzzer-sys turns it into an abort).
    Panic,
    Timeout,
    /// libFuzzer's `-rss_limit_mb`, or ASan's allocator running out.
    OutOfMemory,
    /// One allocation above `-malloc_limit_mb` (or ASan's
    /// `allocation-size-too-big`).
    MallocLimit,
    Leak,
}

impl CrashKind {
    /// The access direction, when the kind has one.
    pub fn access(&self) -> Option<Access> {
        match self {
            CrashKind::HeapBufferOverflow(a)
            | CrashKind::StackBufferOverflow(a)
            | CrashKind::GlobalBufferOverflow(a)
            | CrashKind::UseAfterFree(a)
            | CrashKind::Segv(a)
            | CrashKind::Other { access: a, .. } => Some(*a),
            _ => None,
        }
    }

    /// A sanitizer's error name (`heap-buffer-overflow`, as in its
    /// `SUMMARY:` line) and access, mapped to a kind. `tool` is the
    /// sanitizer's full name (`AddressSanitizer`).
    pub fn from_sanitizer(tool: &str, error: &str, access: Access) -> CrashKind {
        match error {
            "heap-buffer-overflow" => CrashKind::HeapBufferOverflow(access),
            "stack-buffer-overflow" => CrashKind::StackBufferOverflow(access),
            "global-buffer-overflow" => CrashKind::GlobalBufferOverflow(access),
            "heap-use-after-free" => CrashKind::UseAfterFree(access),
            "double-free" => CrashKind::DoubleFree,
            "bad-free" => CrashKind::BadFree,
            "SEGV" => CrashKind::Segv(access),
            "stack-overflow" => CrashKind::StackOverflow,
            "out-of-memory" => CrashKind::OutOfMemory,
            "allocation-size-too-big" => CrashKind::MallocLimit,
            "detected-memory-leaks" => CrashKind::Leak,
            _ => CrashKind::Other {
                tool: short_tool(tool).to_owned(),
                error: kebab(error),
                access,
            },
        }
    }

    /// The stable name (see the type's documentation).
    pub fn name(&self) -> String {
        let (base, access) = match self {
            CrashKind::HeapBufferOverflow(a) => ("heap-buffer-overflow", *a),
            CrashKind::StackBufferOverflow(a) => ("stack-buffer-overflow", *a),
            CrashKind::GlobalBufferOverflow(a) => ("global-buffer-overflow", *a),
            CrashKind::UseAfterFree(a) => ("heap-use-after-free", *a),
            CrashKind::Segv(a) => ("segv", *a),
            CrashKind::Other {
                tool,
                error,
                access,
            } => return format!("{tool}:{error}{}", access.suffix()),
            CrashKind::DoubleFree => return "double-free".into(),
            CrashKind::BadFree => return "bad-free".into(),
            CrashKind::StackOverflow => return "stack-overflow".into(),
            CrashKind::DeadlySignal => return "deadly-signal".into(),
            CrashKind::Panic => return "panic".into(),
            CrashKind::Timeout => return "timeout".into(),
            CrashKind::OutOfMemory => return "out-of-memory".into(),
            CrashKind::MallocLimit => return "malloc-limit".into(),
            CrashKind::Leak => return "leak".into(),
        };
        format!("{base}{}", access.suffix())
    }

    /// A short phrase for titles: `heap-buffer-overflow WRITE`, `panic`.
    pub fn label(&self) -> String {
        let name = match self {
            CrashKind::Other { tool, error, .. } => format!("{tool}: {error}"),
            other => {
                let name = other.name();
                match other.access() {
                    Some(a) if a != Access::Unknown => name.trim_end_matches(a.suffix()).to_owned(),
                    _ => name,
                }
            }
        };
        match self.access() {
            Some(Access::Read) => format!("{name} READ"),
            Some(Access::Write) => format!("{name} WRITE"),
            _ => name,
        }
    }
}

impl fmt::Display for CrashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A crash kind name that does not parse (empty, or `tool:` without an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown crash kind {0:?}")]
pub struct UnknownCrashKind(pub String);

impl FromStr for CrashKind {
    type Err = UnknownCrashKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UnknownCrashKind(s.to_owned());
        let (base, access) = split_access(s);
        if let Some((tool, error)) = base.split_once(':') {
            if tool.is_empty() || error.is_empty() {
                return Err(bad());
            }
            return Ok(CrashKind::Other {
                tool: tool.to_owned(),
                error: error.to_owned(),
                access,
            });
        }
        let with_access = |kind: fn(Access) -> CrashKind| Ok(kind(access));
        match base {
            "heap-buffer-overflow" => with_access(CrashKind::HeapBufferOverflow),
            "stack-buffer-overflow" => with_access(CrashKind::StackBufferOverflow),
            "global-buffer-overflow" => with_access(CrashKind::GlobalBufferOverflow),
            "heap-use-after-free" => with_access(CrashKind::UseAfterFree),
            "segv" => with_access(CrashKind::Segv),
            _ if access != Access::Unknown => Err(bad()),
            "double-free" => Ok(CrashKind::DoubleFree),
            "bad-free" => Ok(CrashKind::BadFree),
            "stack-overflow" => Ok(CrashKind::StackOverflow),
            "deadly-signal" => Ok(CrashKind::DeadlySignal),
            "panic" => Ok(CrashKind::Panic),
            "timeout" => Ok(CrashKind::Timeout),
            "out-of-memory" => Ok(CrashKind::OutOfMemory),
            "malloc-limit" => Ok(CrashKind::MallocLimit),
            "leak" => Ok(CrashKind::Leak),
            _ => Err(bad()),
        }
    }
}

fn split_access(s: &str) -> (&str, Access) {
    if let Some(base) = s.strip_suffix("-read") {
        (base, Access::Read)
    } else if let Some(base) = s.strip_suffix("-write") {
        (base, Access::Write)
    } else {
        (s, Access::Unknown)
    }
}

impl Serialize for CrashKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for CrashKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `AddressSanitizer` → `asan`, and so on; unknown tools are lowercased.
pub(crate) fn short_tool(tool: &str) -> String {
    match tool {
        "AddressSanitizer" => "asan".into(),
        "LeakSanitizer" => "lsan".into(),
        "UndefinedBehaviorSanitizer" => "ubsan".into(),
        "MemorySanitizer" => "msan".into(),
        "ThreadSanitizer" => "tsan".into(),
        "HWAddressSanitizer" => "hwasan".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// `signed integer overflow` → `signed-integer-overflow`; keeps only
/// ASCII letters, digits and single dashes.
pub(crate) fn kebab(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let kinds = [
            CrashKind::HeapBufferOverflow(Access::Read),
            CrashKind::HeapBufferOverflow(Access::Write),
            CrashKind::HeapBufferOverflow(Access::Unknown),
            CrashKind::UseAfterFree(Access::Read),
            CrashKind::Segv(Access::Write),
            CrashKind::DoubleFree,
            CrashKind::BadFree,
            CrashKind::StackOverflow,
            CrashKind::DeadlySignal,
            CrashKind::Panic,
            CrashKind::Timeout,
            CrashKind::OutOfMemory,
            CrashKind::MallocLimit,
            CrashKind::Leak,
            CrashKind::Other {
                tool: "ubsan".into(),
                error: "signed-integer-overflow".into(),
                access: Access::Unknown,
            },
            CrashKind::Other {
                tool: "asan".into(),
                error: "stack-use-after-return".into(),
                access: Access::Write,
            },
        ];
        for kind in kinds {
            let name = kind.to_string();
            assert_eq!(name.parse::<CrashKind>().unwrap(), kind, "{name}");
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<CrashKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            CrashKind::HeapBufferOverflow(Access::Write).to_string(),
            "heap-buffer-overflow-write"
        );
        assert!("panic-read".parse::<CrashKind>().is_err());
        assert!("nonsense".parse::<CrashKind>().is_err());
    }

    #[test]
    fn sanitizer_errors_map_to_kinds() {
        assert_eq!(
            CrashKind::from_sanitizer("AddressSanitizer", "heap-use-after-free", Access::Read),
            CrashKind::UseAfterFree(Access::Read)
        );
        assert_eq!(
            CrashKind::from_sanitizer("AddressSanitizer", "stack-use-after-scope", Access::Write)
                .to_string(),
            "asan:stack-use-after-scope-write"
        );
        assert_eq!(
            CrashKind::HeapBufferOverflow(Access::Write).label(),
            "heap-buffer-overflow WRITE"
        );
        assert_eq!(CrashKind::Panic.label(), "panic");
        assert_eq!(kebab("signed integer overflow"), "signed-integer-overflow");
    }
}
