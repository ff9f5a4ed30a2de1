//! How bad a crash is, from its kind alone: the order in which a person should look at buckets.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kind::{Access, CrashKind};

/// Severity classes, most severe first (`Critical < High` in `Ord`, so an
/// ascending sort lists the worst first).
///
/// | severity | kinds | why |
/// | --- | --- | --- |
/// | `critical` | buffer overflow WRITE (heap, stack, global), any use-after-free, double free, bad free, SEGV on a WRITE, other sanitizer errors that write or are use-after-* | memory corruption an attacker can usually steer into code execution |
/// | `high` | buffer overflow READ or unknown access, SEGV on a read or unknown access, every other sanitizer error (UBSan, MSan, ASan's others) | information disclosure, or undefined behaviour whose effect the compiler decides |
/// | `medium` | Rust panics (index, overflow, unwrap, assert, …), stack overflow, deadly signal without a sanitizer report (a C `assert`/`abort`) | a clean, deterministic abort: denial of service, or a broken invariant in safe code |
/// | `low` | leaks, out-of-memory, malloc limit, timeouts | resource exhaustion; often a fuzzing-limit artefact rather than a bug |
///
/// A bucket's severity is the highest of its crashes', so a merge never
/// hides the worse half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    /// The severity of a crash of this kind (see the table on [`Severity`]).
    pub fn of(kind: &CrashKind) -> Severity {
        match kind {
            CrashKind::HeapBufferOverflow(a)
            | CrashKind::StackBufferOverflow(a)
            | CrashKind::GlobalBufferOverflow(a)
            | CrashKind::Segv(a) => {
                if *a == Access::Write {
                    Severity::Critical
                } else {
                    Severity::High
                }
            }
            CrashKind::UseAfterFree(_) | CrashKind::DoubleFree | CrashKind::BadFree => {
                Severity::Critical
            }
            CrashKind::Other { error, access, .. } => {
                if *access == Access::Write || error.contains("use-after") {
                    Severity::Critical
                } else {
                    Severity::High
                }
            }
            CrashKind::Panic | CrashKind::StackOverflow | CrashKind::DeadlySignal => {
                Severity::Medium
            }
            CrashKind::Leak
            | CrashKind::OutOfMemory
            | CrashKind::MallocLimit
            | CrashKind::Timeout => Severity::Low,
        }
    }

    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name other than `critical`, `high`, `medium`, `low`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?} (expected critical, high, medium or low)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sev(kind: &str) -> Severity {
        Severity::of(&kind.parse().unwrap())
    }

    #[test]
    fn writes_and_use_after_free_rank_highest_then_reads_then_panics_then_resources() {
        for k in [
            "heap-buffer-overflow-write",
            "stack-buffer-overflow-write",
            "global-buffer-overflow-write",
            "heap-use-after-free-read",
            "heap-use-after-free-write",
            "double-free",
            "bad-free",
            "segv-write",
            "asan:stack-use-after-return-read",
        ] {
            assert_eq!(sev(k), Severity::Critical, "{k}");
        }
        for k in [
            "heap-buffer-overflow-read",
            "heap-buffer-overflow",
            "stack-buffer-overflow-read",
            "segv-read",
            "segv",
            "ubsan:signed-integer-overflow",
            "msan:use-of-uninitialized-value",
        ] {
            assert_eq!(sev(k), Severity::High, "{k}");
        }
        for k in ["panic", "stack-overflow", "deadly-signal"] {
            assert_eq!(sev(k), Severity::Medium, "{k}");
        }
        for k in ["leak", "out-of-memory", "malloc-limit", "timeout"] {
            assert_eq!(sev(k), Severity::Low, "{k}");
        }
    }

    #[test]
    fn ordering_sorts_worst_first_and_names_round_trip() {
        let mut v = vec![
            Severity::Low,
            Severity::Critical,
            Severity::Medium,
            Severity::High,
        ];
        v.sort();
        assert_eq!(v, Severity::ALL);
        for s in Severity::ALL {
            assert_eq!(s.to_string().parse::<Severity>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }
}
