//! The hub's key layout (docs/hub.md) and the validation of every name read back from it.
//!
//! ```text
//! meta.json                                   which layout the hub uses, and its identity
//! v1/corpus/<target>/<sha1>                   a corpus entry (content-addressed)
//! v1/crashes/<target>/<kind>-<sha1>           a finding's input
//! v1/crashes/<target>/<kind>-<sha1>.log       its report
//! v1/log/<target>/<node>/<seq>.json           one push of one node: the keys it added
//! v1/heartbeats/<node>.json                   a node's latest heartbeat
//! ```
//!
//! Keys are only ever built here from validated names, and names are only ever taken
//! from the hub through the parsers here, so nothing read from a hub becomes a path
//! component without passing the same rules as a configured name.

use std::fmt;

pub use crate::names::{CrashName, Sha1Name};
use fleet_config::{NodeName, TargetName};
use object_store::path::Path;

/// The newest layout this build reads and writes.
pub const LAYOUT_VERSION: u32 = 1;

/// The directory every layout-1 key lives under.
const V1: &str = "v1";

/// Digits in a batch's sequence number: `u64::MAX` has 20, and zero padding makes the
/// store's lexical listing order the numeric order.
const SEQ_DIGITS: usize = 20;

pub(crate) fn meta() -> Path {
    Path::from("meta.json")
}

pub(crate) fn corpus_dir(target: &TargetName) -> Path {
    Path::from_iter([V1, "corpus", target.as_str()])
}

pub(crate) fn corpus(target: &TargetName, sha1: &Sha1Name) -> Path {
    Path::from_iter([V1, "corpus", target.as_str(), sha1.as_str()])
}

pub(crate) fn crashes_dir(target: &TargetName) -> Path {
    Path::from_iter([V1, "crashes", target.as_str()])
}

pub(crate) fn crash_input(target: &TargetName, crash: &CrashName) -> Path {
    Path::from_iter([V1, "crashes", target.as_str(), &crash.to_string()])
}

pub(crate) fn crash_report(target: &TargetName, crash: &CrashName) -> Path {
    Path::from_iter([V1, "crashes", target.as_str(), &format!("{crash}.log")])
}

/// Where every node's batches for `target` live: one sub-directory per node.
pub(crate) fn log_dir(target: &TargetName) -> Path {
    Path::from_iter([V1, "log", target.as_str()])
}

pub(crate) fn node_log_dir(target: &TargetName, node: &NodeName) -> Path {
    Path::from_iter([V1, "log", target.as_str(), node.as_str()])
}

pub(crate) fn batch(target: &TargetName, node: &NodeName, seq: u64) -> Path {
    Path::from_iter([
        V1,
        "log",
        target.as_str(),
        node.as_str(),
        &format!("{seq:0SEQ_DIGITS$}.json"),
    ])
}

pub(crate) fn heartbeats_dir() -> Path {
    Path::from_iter([V1, "heartbeats"])
}

pub(crate) fn heartbeat(node: &NodeName) -> Path {
    Path::from_iter([V1, "heartbeats", &format!("{node}.json")])
}

/// A key the hub holds that fuzzfleet will not use, and why. Sync records it and goes on:
/// one bad object (or one hostile node) must not stop the rest of the fleet's exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused hub key {key}: {reason}")]
pub struct Refusal {
    pub key: String,
    pub reason: String,
}

impl Refusal {
    pub(crate) fn new(key: impl fmt::Display, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

impl Sha1Name {
    /// The name of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(fleet_store::sha1_hex(bytes))
    }
}

/// The sequence number of a batch key's last segment, `<20 digits>.json`.
pub(crate) fn parse_batch_name(name: &str) -> Result<u64, String> {
    name.strip_suffix(".json")
        .filter(|digits| digits.len() == SEQ_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| format!("{name:?} is not a batch name ({SEQ_DIGITS} digits then .json)"))
}

/// The last segment of a key, as the store spells it (percent-encoded where needed, so
/// an odd byte can never pass the name rules by being decoded later).
pub(crate) fn last_segment(key: &Path) -> &str {
    key.as_ref().rsplit('/').next().unwrap_or_default()
}

pub(crate) fn parse_node(key: &Path) -> Result<NodeName, Refusal> {
    NodeName::new(last_segment(key)).map_err(|e| Refusal::new(key, e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TargetName {
        TargetName::new(s).unwrap()
    }

    #[test]
    fn keys_follow_the_documented_layout() {
        let sha = Sha1Name::of(b"");
        let node = NodeName::new("sg-1").unwrap();
        let crash: CrashName = format!("crash-{sha}").parse().unwrap();
        assert_eq!(
            corpus(&t("merkle"), &sha).as_ref(),
            "v1/corpus/merkle/da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            crash_report(&t("merkle"), &crash).as_ref(),
            "v1/crashes/merkle/crash-da39a3ee5e6b4b0d3255bfef95601890afd80709.log"
        );
        assert_eq!(
            batch(&t("merkle"), &node, 42).as_ref(),
            "v1/log/merkle/sg-1/00000000000000000042.json"
        );
        assert_eq!(heartbeat(&node).as_ref(), "v1/heartbeats/sg-1.json");
        assert_eq!(meta().as_ref(), "meta.json");
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "../../etc/x",
            "/etc/passwd",
            "",
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
            "da39a3ee5e6b4b0d3255bfef95601890afd8070",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709/..",
        ] {
            assert!(Sha1Name::new(bad).is_err(), "{bad}");
        }
        for bad in [
            "crash-../../etc/x",
            "../crash-da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "boom-da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "crash",
        ] {
            assert!(bad.parse::<CrashName>().is_err(), "{bad}");
        }
        for bad in [
            "1.json",
            "../00000000000000000001.json",
            "0000000000000000000a.json",
        ] {
            assert!(parse_batch_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_batch_name("00000000000000000007.json"), Ok(7));
    }

    #[test]
    fn crash_names_round_trip() {
        let name = "slow-da39a3ee5e6b4b0d3255bfef95601890afd80709";
        let crash: CrashName = name.parse().unwrap();
        assert_eq!(crash.kind, fleet_engine::FindingKind::SlowUnit);
        assert_eq!(crash.to_string(), name);
    }
}
