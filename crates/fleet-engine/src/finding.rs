//! The kinds of finding an engine can leave behind, shared by every engine and by the store and the API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an artifact written by a fuzzer is evidence of.
///
/// The names (serde, `Display`, `FromStr`) are the vocabulary of DESIGN.md
/// and of the `crashes list --json` contract: `crash`, `leak`, `timeout`,
/// `oom`, `slow`. `SlowUnit` is spelled `slow` everywhere, including serde,
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
}

impl FindingKind {
    /// Every kind, in a stable order (for tables and tests).
    pub const ALL: [FindingKind; 5] = [
        FindingKind::Crash,
        FindingKind::Leak,
        FindingKind::Timeout,
        FindingKind::Oom,
        FindingKind::SlowUnit,
    ];

    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Crash => "crash",
            FindingKind::Leak => "leak",
            FindingKind::Timeout => "timeout",
            FindingKind::Oom => "oom",
            FindingKind::SlowUnit => "slow",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finding kind name that is not one of `crash`, `leak`, `timeout`, `oom`, `slow`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding kind {0:?} (expected crash, leak, timeout, oom or slow)")]
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
