//! Checks that the baseline runs what fuzzfleet runs: the arguments and environment of
//! every worker fuzzfleet started, read from `/proc`, against the commands started by hand.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::fleet::FleetRun;
use crate::hand::HandRun;

/// The variables the worker command sets (the rest is inherited from the bench).
const SET_VARS: [&str; 2] = ["ASAN_OPTIONS", "TMPDIR"];

/// A worker's arguments and `SET_VARS`, with its state dir written `<state>`.
type Normal = (Vec<String>, Vec<Option<String>>);

/// Panics, showing both, unless each of fuzzfleet's workers got the arguments and
/// `SET_VARS` of one of the baseline's workers (apart from the baseline's
/// `-max_total_time` and the state dirs).
pub fn assert_same_workers(hand: &HandRun, fleet: &FleetRun) {
    let baseline: Vec<Normal> = hand
        .commands
        .iter()
        .map(|c| normal(&c.args, &c.env, &hand.state))
        .collect();
    for life in &fleet.lives.0 {
        let worker = normal(&life.args, &life.env, &fleet.state);
        if !baseline.contains(&worker) {
            // The baseline worker with the same private temp dir, for the message.
            let closest = baseline
                .iter()
                .find(|b| b.1 == worker.1)
                .unwrap_or(&baseline[0]);
            panic!(
                "fuzzfleet's worker {} ran something the baseline does not:\n\
                 fuzzfleet: {worker:?}\nbaseline:  {closest:?}",
                life.pid
            );
        }
    }
}

fn normal(args: &[OsString], env: &[(OsString, OsString)], state: &Path) -> Normal {
    let args = args
        .iter()
        .map(|a| normalize(a, state))
        .filter(|a| !a.starts_with("-max_total_time="))
        .collect();
    let vars = SET_VARS
        .iter()
        .map(|var| {
            env.iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| normalize(v, state))
        })
        .collect();
    (args, vars)
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
