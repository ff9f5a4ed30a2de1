//! Checks that the baseline runs what fuzzfleet runs: the arguments and environment of
//! fuzzfleet's first worker, read from `/proc`, against the command started by hand.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The variables the worker command sets (the rest is inherited from the bench).
const SET_VARS: [&str; 2] = ["ASAN_OPTIONS", "TMPDIR"];

/// Panics, showing both, unless the two workers got the same arguments (apart from the
/// baseline's `-max_total_time` and the state dirs) and the same `SET_VARS`.
pub fn assert_same_worker(
    hand: (&Path, &[OsString], &[(OsString, OsString)]),
    fleet: (&Path, &[OsString], &[(OsString, OsString)]),
) {
    let (hand_state, hand_args, hand_env) = hand;
    let (fleet_state, fleet_args, fleet_env) = fleet;
    let h: Vec<String> = hand_args
        .iter()
        .map(|a| normalize(a, hand_state))
        .filter(|a| !a.starts_with("-max_total_time="))
        .collect();
    let f: Vec<String> = fleet_args
        .iter()
        .map(|a| normalize(a, fleet_state))
        .collect();
    assert_eq!(
        h, f,
        "the baseline's worker arguments (left) differ from fuzzfleet's (right)"
    );
    for var in SET_VARS {
        let get = |env: &[(OsString, OsString)], state: &Path| {
            env.iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| normalize(v, state))
        };
        assert_eq!(
            get(hand_env, hand_state),
            get(fleet_env, fleet_state),
            "{var} differs between the baseline's worker (left) and fuzzfleet's (right)"
        );
    }
}

/// `arg` with its state dir (as given or canonical) replaced by `<state>`.
fn normalize(arg: &OsStr, state: &Path) -> String {
    let mut text = arg.to_string_lossy().into_owned();
    let canonical = state.canonicalize().unwrap_or_else(|_| state.to_path_buf());
    for dir in [canonical.as_path(), state] {
        text = text.replace(&*dir.to_string_lossy(), "<state>");
    }
    text
}
