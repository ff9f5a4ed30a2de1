//! The kinds of finding an engine can leave behind, shared by every engine and by the store and the API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an artifact written by a fuzzer is evidence of, or (`ubsan`) a
/// sanitizer report the target recovered from, which leaves no artifact.
///
/// The names (serde, `Display`, `FromStr`) are the vocabulary of the
/// `crashes list --json` contract: `crash`, `leak`, `timeout`, `oom`,
/// `slow`, `ubsan`. `SlowUnit` is spelled `slow` everywhere, including serde,
/// so the database, the API and the CLI never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Crash,
    Leak,
    Timeout,
    Oom,
    #[serde(rename = "slow")]
    SlowUnit,
    /// A UBSan `runtime error:` the target went on after (built with
    /// `-fsanitize-recover`): no input, only the report and its location.
    Ubsan,
}

impl FindingKind {
    /// Every kind, in a stable order (for tables and tests).
    pub const ALL: [FindingKind; 6] = [
        FindingKind::Crash,
        FindingKind::Leak,
        FindingKind::Timeout,
        FindingKind::Oom,
        FindingKind::SlowUnit,
        FindingKind::Ubsan,
    ];

    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Crash => "crash",
            FindingKind::Leak => "leak",
            FindingKind::Timeout => "timeout",
            FindingKind::Oom => "oom",
            FindingKind::SlowUnit => "slow",
            FindingKind::Ubsan => "ubsan",
        }
    }

    /// Whether libFuzzer writes an input file (an artifact) for this kind.
    pub fn has_artifact(self) -> bool {
        self != FindingKind::Ubsan
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finding kind name that is not one of `crash`, `leak`, `timeout`, `oom`, `slow`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding kind {0:?} (expected crash, leak, timeout, oom, slow or ubsan)")]
pub struct UnknownFindingKind(pub String);

impl FromStr for FindingKind {
    type Err = UnknownFindingKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownFindingKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_across_display_serde_and_from_str() {
        for kind in FindingKind::ALL {
            let name = kind.to_string();
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<FindingKind>(&format!("\"{name}\"")).unwrap(),
                kind
            );
            assert_eq!(name.parse::<FindingKind>().unwrap(), kind);
        }
        assert_eq!(FindingKind::SlowUnit.to_string(), "slow");
        assert!("slowunit".parse::<FindingKind>().is_err());
    }
}
