//! A hang in a racy thread join (`fixtures/cpp/hang_join.cc`: `Pool::~Pool` joins a
//! worker that missed its wake-up) is one timeout bucket named after the destructor that
//! joins, with the stack it had in the campaign, however often it reproduces.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Fleet, KillOnDrop, wait_until};

fn timeouts(buckets: &[Value]) -> Vec<&Value> {
    buckets.iter().filter(|b| b["kind"] == "timeout").collect()
}

#[test]
fn a_racy_join_hang_is_one_timeout_bucket_named_after_the_destructor_that_joins() {
    let binary = fleet_testkit::c_fixture("hang_join");
    let fleet = Fleet::new(&format!(
        "[[target]]\nname = \"hang_join\"\nbinary = \"{}\"\ntimeout_s = 1\n\
         [tier.t]\ntargets = [\"hang_join\"]\nbudget = \"1h\"\n\
         [crashes]\ntriage_deadline = \"5s\"\n",
        binary.display()
    ));
    // One worker: a timeout's stack is printed after its artifact, and a worker's exit
    // sweeps its target's whole incoming dir, so with two a hang of one worker can be
    // taken without its report when the other exits (the exit sweep must leave other
    // running workers' artifacts to them).
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    // Two hangs found (distinct inputs or the same one again), both triaged.
    wait_until(
        "two hangs found and filed",
        Duration::from_secs(240),
        || {
            let buckets = fleet.buckets();
            let filed = timeouts(&buckets)
                .iter()
                .filter(|b| !b["signature"].is_null())
                .map(|b| b["count"].as_i64().unwrap_or(0))
                .sum::<i64>();
            filed >= 2
        },
    );
    run.stop();
    let buckets = fleet.buckets();
    let hangs = timeouts(&buckets);
    let log = fleet.run_log();
    assert_eq!(hangs.len(), 1, "{buckets:#?}\n{log}");
    let hang = hangs[0];
    let title = hang["title"].as_str().unwrap();
    assert!(title.contains("Pool::~Pool"), "{title}\n{log}");
    assert!(
        hang["signature"]
            .as_str()
            .unwrap()
            .contains("~Pool@hang_join.cc"),
        "{hang:#}"
    );
    // Any repro outcome: the race may or may not hang again when replayed.
    println!("hang bucket: {title}, repro {}", hang["repro"]);
    // The stack the campaign saw stays in the report, whatever the replay printed.
    let report = std::fs::read_to_string(hang["report_path"].as_str().unwrap()).unwrap();
    assert!(report.contains("Pool::~Pool()"), "{report}");
    assert!(report.contains("std::thread::join()"), "{report}");
}
