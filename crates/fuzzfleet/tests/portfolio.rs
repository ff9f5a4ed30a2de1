//! The defaults that make fuzzfleet faster than N copies of libFuzzer, end to end on the
//! Rust fixtures: the schedule that follows coverage (a target that plateaus loses its
//! share to ones that still grow, and every decision is explained in `status`) and the
//! strategy portfolio (each run's strategies chosen and paid, the recommended dictionary
//! taken from the runs that end by themselves, all of it in `status --json`).

mod support;

use std::collections::BTreeMap;
use std::fs;

use support::Fleet;

/// Three targets on one worker in 5-second slices: `stateful` reaches all it can
/// reach within seconds; `clean` and `plant_nested` keep finding features.
const THREE: &str = "[tier.t]\ntargets = [\"clean\", \"plant_nested\", \"stateful\"]\n\
                     budget = \"5s\"\n";

/// The three targets of the tier (the project has more, which do not run).
fn ours(status: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    status["targets"].as_array().unwrap().iter().filter(|t| {
        ["clean", "plant_nested", "stateful"].contains(&t["name"].as_str().unwrap_or(""))
    })
}

#[test]
fn a_plateaued_target_loses_its_share_and_every_run_gets_strategies_that_status_explains() {
    let fleet = Fleet::with_top(
        "schedule = \"coverage\"\nstrategies = \"portfolio\"\n",
        THREE,
    );
    let out = fleet.output(&["run", "--no-build", "--for", "60s", "--workers", "1"]);
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{log}");

    // Every slice is announced; each target had a first turn, then the one that stopped
    // growing ran least.
    let mut slices: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        if let Some((_, rest)) = line.split_once("] next 5s: ") {
            let target = rest.split(' ').next().unwrap().trim_end_matches(',');
            *slices.entry(target.to_string()).or_default() += 1;
        }
    }
    for t in ["clean", "plant_nested", "stateful"] {
        assert!(
            slices.get(t).is_some_and(|n| *n >= 1),
            "{t} never ran: {log}"
        );
    }
    assert!(
        slices["stateful"] < slices["plant_nested"],
        "the plateaued target kept its share: {slices:?}\n{log}"
    );

    let status = fleet.status();
    let mut arms_paid = 0;
    for t in ours(&status) {
        let name = t["name"].as_str().unwrap();
        // The schedule's share and its reason, not a tier's clock.
        let share = &t["share"];
        assert!(
            share["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{t}"
        );
        assert!(t["schedule"].is_null(), "{t}");
        // The strategies with what each paid.
        let strategies = t["strategies"].as_array().unwrap();
        assert!(!strategies.is_empty(), "{name}: no strategies in {t}");
        arms_paid += strategies
            .iter()
            .filter(|s| s["runs"].as_u64() > Some(0))
            .count();
    }
    // The first run of each target is plain; the next ones try other arms.
    assert!(arms_paid > 3, "only {arms_paid} arms ran: {status}");

    // Runs end by themselves at their slice's end, so libFuzzer printed its
    // recommended dictionary, which a later run can use.
    let dicts = ["clean", "plant_nested", "stateful"]
        .iter()
        .filter(|t| {
            fs::read_to_string(
                fleet
                    .state()
                    .join("strategy")
                    .join(t)
                    .join("recommended.dict"),
            )
            .is_ok_and(|d| d.lines().any(|l| l.starts_with('"')))
        })
        .count();
    assert!(dicts >= 1, "no recommended dictionary was kept");

    // The text view explains the same.
    let text = String::from_utf8_lossy(&fleet.output(&["status"]).stdout).to_string();
    assert!(text.contains("share "), "{text}");
    assert!(text.contains("new features/worker-s"), "{text}");
}

#[test]
fn plain_strategies_and_the_fixed_clock_run_as_configured() {
    let fleet = Fleet::with_top("schedule = \"fixed\"\nstrategies = \"plain\"\n", THREE);
    let out = fleet.output(&["run", "--no-build", "--once", "--workers", "1"]);
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(!log.contains("next 5s:"), "{log}");
    let status = fleet.status();
    for t in ours(&status) {
        assert!(t["share"].is_null(), "{t}");
        assert_eq!(t["strategies"].as_array().map(Vec::len), Some(0), "{t}");
        assert_eq!(t["schedule"]["budget_s"].as_u64(), Some(5), "{t}");
    }
    // `--strategies portfolio` overrides the file.
    let out = fleet.output(&[
        "run",
        "--no-build",
        "--once",
        "--workers",
        "1",
        "--strategies",
        "portfolio",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let status = fleet.status();
    assert!(
        ours(&status).any(|t| !t["strategies"].as_array().unwrap().is_empty()),
        "{status}"
    );
}
