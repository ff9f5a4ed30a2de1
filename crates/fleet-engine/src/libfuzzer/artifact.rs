//! Artifact file names: which finding kind a file libFuzzer wrote is, and its content hash.

use super::quirks::{
    HASH_HEX_LEN, PREFIX_CRASH, PREFIX_LEAK, PREFIX_OOM, PREFIX_SLOW_UNIT, PREFIX_TIMEOUT,
};
use crate::FindingKind;

const PREFIXES: [(&str, FindingKind); 5] = [
    (PREFIX_CRASH, FindingKind::Crash),
    (PREFIX_LEAK, FindingKind::Leak),
    (PREFIX_TIMEOUT, FindingKind::Timeout),
    (PREFIX_OOM, FindingKind::Oom),
    (PREFIX_SLOW_UNIT, FindingKind::SlowUnit),
];

/// Classifies a file name found in an artifact directory:
/// `crash-<sha1>`, `leak-<sha1>`, `timeout-<sha1>`, `oom-<sha1>`,
/// `slow-unit-<sha1>`, with the 40 lowercase hex digits libFuzzer uses.
/// Returns the kind and the hash.
///
/// Anything else is `None`: temp files, files renamed by people or
/// scripts, and `minimized-from-<sha1>` (the output of a minimization
/// fuzzfleet started, which the crash pipeline tracks itself).
pub fn classify_artifact(file_name: &str) -> Option<(FindingKind, &str)> {
    PREFIXES.iter().find_map(|(prefix, kind)| {
        let hash = file_name.strip_prefix(prefix)?;
        is_sha1_hex(hash).then_some((*kind, hash))
    })
}

/// The file name libFuzzer gives an artifact of `kind` for an input whose
/// SHA-1 is `hash_hex`.
pub fn artifact_file_name(kind: FindingKind, hash_hex: &str) -> String {
    let prefix = PREFIXES
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or(PREFIX_CRASH, |(p, _)| p);
    format!("{prefix}{hash_hex}")
}

fn is_sha1_hex(s: &str) -> bool {
    s.len() == HASH_HEX_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "f2777ec41a9b8ee4d97ed1771e382e26848e1fa6";

    #[test]
    fn every_kind_round_trips() {
        for kind in FindingKind::ALL.into_iter().filter(|k| k.has_artifact()) {
            let name = artifact_file_name(kind, H);
            assert_eq!(classify_artifact(&name), Some((kind, H)), "{name}");
        }
        assert_eq!(
            artifact_file_name(FindingKind::SlowUnit, H),
            format!("slow-unit-{H}")
        );
    }

    #[test]
    fn other_files_are_not_findings() {
        for name in [
            format!("minimized-from-{H}"),
            format!("crash-{}", &H[..39]),
            format!("crash-{H}0"),
            format!("crash-{}", H.to_uppercase()),
            format!("crash-{H}.tmp"),
            format!("slow-{H}"),
            H.to_owned(),
            "crash-".to_owned(),
            "fuzz-0.log".to_owned(),
        ] {
            assert_eq!(classify_artifact(&name), None, "{name}");
        }
    }
}
