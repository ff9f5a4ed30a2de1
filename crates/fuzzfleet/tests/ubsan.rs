//! Recoverable sanitizer reports are findings: a harness built with
//! `-fsanitize=fuzzer,address,undefined -fsanitize-recover=undefined`
//! (`fixtures/c/ubsan_recover.c`) prints UBSan's `runtime error:` and goes on fuzzing;
//! each place it happens is recorded once, as a finding of kind `ubsan`, and the worker
//! is never restarted for it.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Fleet, KillOnDrop, wait_until};

fn ubsan(buckets: &[Value]) -> Vec<&Value> {
    buckets
        .iter()
        .filter(|b| b["kind"].as_str().is_some_and(|k| k.starts_with("ubsan")))
        .collect()
}

#[test]
fn each_recovered_ubsan_site_is_one_finding_and_the_worker_keeps_fuzzing() {
    let binary = fleet_testkit::c_fixture("ubsan_recover");
    let fleet = Fleet::new(&format!(
        "[[target]]\nname = \"ubsan_recover\"\nbinary = \"{}\"\n\
         [tier.t]\ntargets = [\"ubsan_recover\"]\nbudget = \"1h\"\n\
         [crashes]\ntriage_deadline = \"5s\"\n",
        binary.display()
    ));
    let mut run = KillOnDrop(fleet.start(&["--workers", "2"]));
    wait_until(
        "both UBSan sites recorded",
        Duration::from_secs(120),
        || ubsan(&fleet.buckets()).len() >= 2,
    );
    let execs_then = fleet.target("ubsan_recover")["execs"].as_i64().unwrap();
    wait_until(
        "fuzzing going on after the reports",
        Duration::from_secs(60),
        || fleet.target("ubsan_recover")["execs"].as_i64().unwrap() > execs_then,
    );
    let status = fleet.target("ubsan_recover");
    run.stop();
    let log = fleet.run_log();
    assert_eq!(status["state"], "running", "{status:#}\n{log}");
    assert_eq!(status["restarts"], 0, "{status:#}\n{log}");

    let buckets = fleet.buckets();
    let found = ubsan(&buckets);
    // One finding per place: a second worker, or the same one later, only counts again.
    assert_eq!(found.len(), 2, "{buckets:#?}\n{log}");
    let mut places: Vec<String> = Vec::new();
    for b in &found {
        assert_eq!(b["findings"].as_array().unwrap().len(), 1, "{b:#}");
        let report = std::fs::read_to_string(b["report_path"].as_str().unwrap()).unwrap();
        assert!(report.contains(": runtime error: "), "{report}");
        let place = report
            .lines()
            .find_map(|l| l.split_once(": runtime error: "))
            .unwrap()
            .0
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        places.push(place);
    }
    places.sort();
    assert_eq!(places, ["ubsan_recover.c:12:18", "ubsan_recover.c:16:12"]);
    // Nothing crashed: the only findings are the recovered reports.
    assert_eq!(buckets.len(), 2, "{buckets:#?}");
}
