//! Which build of each target the coverage schedule sees: its binary's content hash
//! (SHA-1, the build id `fuzzfleet build` and the crash pipeline use), so a binary
//! relinked to the same bytes is no new build. The hash is taken again only when the
//! file's size or modification time differ from the ones the saved schedule holds.

use std::path::Path;

use crate::portfolio::share::{ShareState, TargetSpec};

/// A file's size and modification time (`<bytes>:<mtime in ns>`); empty when it cannot
/// be read.
fn stamp(path: &Path) -> String {
    let Ok(m) = std::fs::metadata(path) else {
        return String::new();
    };
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}:{mtime}", m.len())
}

/// Sets each target's `binary_hash` and `binary_stamp` for its binary (`binary_of` its
/// path), the hash taken from `saved` while the stamp is unchanged. A state saved before
/// builds were told by content held the stamp as its hash: where that stamp is still the
/// binary's, the saved entry is brought to the content hash, so it is the same build.
pub(super) fn identify<'p>(
    targets: &mut [TargetSpec],
    binary_of: impl Fn(&str) -> Option<&'p Path>,
    mut saved: Option<&mut ShareState>,
) {
    for t in targets {
        let Some(binary) = binary_of(&t.name) else {
            continue;
        };
        let stamp = stamp(binary);
        let known = saved
            .as_deref_mut()
            .and_then(|s| s.targets.get_mut(&t.name));
        let hash = match &known {
            Some(k) if !stamp.is_empty() && k.binary_stamp == stamp => k.binary_hash.clone(),
            _ => {
                std::fs::read(binary).map_or_else(|_| String::new(), |b| fleet_store::sha1_hex(&b))
            }
        };
        if let Some(k) = known
            && k.binary_stamp.is_empty()
            && !stamp.is_empty()
            && k.binary_hash == stamp
        {
            k.binary_hash.clone_from(&hash);
            k.binary_stamp.clone_from(&stamp);
        }
        t.binary_hash = hash;
        t.binary_stamp = stamp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::share::Params;
    use std::time::{Duration, SystemTime};

    fn spec() -> Vec<TargetSpec> {
        vec![TargetSpec {
            name: "t".into(),
            weight: 1.0,
            cap: None,
            binary_hash: String::new(),
            binary_stamp: String::new(),
        }]
    }

    /// The schedule's view after a start that finds `binary` as it is now.
    fn start(state: &mut ShareState, binary: &Path) -> Vec<TargetSpec> {
        let mut targets = spec();
        identify(&mut targets, |_| Some(binary), Some(&mut *state));
        state.plan(&targets, 1, Duration::from_secs(60), &Params::default());
        targets
    }

    fn set_mtime(path: &Path, secs: u64) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    /// Regression (issue 18.2): the schedule told builds apart by size and mtime, so a
    /// relinked but identical binary reset the target's share like a new build.
    #[test]
    fn a_touched_binary_is_the_same_build_and_changed_bytes_are_a_new_one() {
        let dir = fleet_testkit::temp_dir();
        let binary = dir.path().join("fuzz_t");
        std::fs::write(&binary, b"build one").unwrap();
        set_mtime(&binary, 1_000_000);
        let mut state = ShareState::new();
        let first = start(&mut state, &binary);
        assert_eq!(first[0].binary_hash, fleet_store::sha1_hex(b"build one"));
        state.targets.get_mut("t").unwrap().rate = Some(2.5);

        // Relinked: the same bytes, a new mtime.
        set_mtime(&binary, 2_000_000);
        let touched = start(&mut state, &binary);
        assert_eq!(touched[0].binary_hash, first[0].binary_hash);
        assert_ne!(touched[0].binary_stamp, first[0].binary_stamp);
        let t = &state.targets["t"];
        assert!(!t.new_build);
        assert_eq!(t.rate, Some(2.5), "its share's measure is kept");
        assert_eq!(t.binary_stamp, touched[0].binary_stamp);

        // Rebuilt: new bytes.
        std::fs::write(&binary, b"build two").unwrap();
        let rebuilt = start(&mut state, &binary);
        assert_eq!(rebuilt[0].binary_hash, fleet_store::sha1_hex(b"build two"));
        let t = &state.targets["t"];
        assert!(t.new_build);
        assert_eq!(t.rate, None);
    }

    #[test]
    fn the_hash_is_taken_again_only_when_size_or_mtime_changed() {
        let dir = fleet_testkit::temp_dir();
        let binary = dir.path().join("fuzz_t");
        std::fs::write(&binary, b"bytes").unwrap();
        let mut state = ShareState::new();
        let now = start(&mut state, &binary);
        // A saved hash for the same stamp is believed without reading the file.
        state.targets.get_mut("t").unwrap().binary_hash = "cached".into();
        let mut targets = spec();
        identify(&mut targets, |_| Some(binary.as_path()), Some(&mut state));
        assert_eq!(targets[0].binary_hash, "cached");
        assert_eq!(targets[0].binary_stamp, now[0].binary_stamp);
    }

    #[test]
    fn a_state_saved_with_the_old_stamp_as_its_hash_keeps_an_unchanged_build() {
        let dir = fleet_testkit::temp_dir();
        let binary = dir.path().join("fuzz_t");
        std::fs::write(&binary, b"bytes").unwrap();
        let mut state = ShareState::new();
        start(&mut state, &binary);
        let t = state.targets.get_mut("t").unwrap();
        // As an earlier fuzzfleet saved it.
        t.binary_hash = std::mem::take(&mut t.binary_stamp);
        t.rate = Some(1.0);
        start(&mut state, &binary);
        let t = &state.targets["t"];
        assert_eq!(t.binary_hash, fleet_store::sha1_hex(b"bytes"));
        assert!(!t.new_build);
        assert_eq!(t.rate, Some(1.0));
    }
}
