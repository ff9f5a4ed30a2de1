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
        // Every arm is paid in one unit, the features a plain run over the whole corpus
        // counts: together they were paid no more than the target has. (Paid by its own
        // count, comparisons included, one value-profile run is many times that.)
        let paid: u64 = strategies
            .iter()
            .map(|s| s["features"].as_u64().unwrap())
            .sum();
        let has = t["features"].as_u64().unwrap_or(0);
        assert!(
            paid <= has,
            "{name}: arms paid {paid} features of {has}: {t}"
        );
    }
    // The first run of each target has the start arm; the next ones try other arms.
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

#[test]
fn both_engines_share_the_corpus_and_a_bug_either_finds_is_one_bucket() {
    let fleet = Fleet::with_top(
        "schedule = \"coverage\"\nstrategies = \"portfolio\"\n",
        "[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"15s\"\n",
    );
    let out = fleet.output(&["run", "--no-build", "--for", "50s", "--workers", "1"]);
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{log}");
    let status = fleet.status();
    let magic = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "crash_magic")
        .unwrap()
        .clone();
    let arms: Vec<&str> = magic["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    if !arms.iter().any(|a| a.starts_with("aflpp:")) {
        // The fixtures have no AFL++ build here (`.ci/run` makes one).
        fleet_testkit::missing(
            "AFL++ builds of the Rust fixtures (fuzzfleet build, engines = [\"libfuzzer\", \"aflpp\"])",
        );
        return;
    }
    let db = fleet_store::Db::open(&fleet.state().join("fleet.db")).unwrap();
    let events = db.events(10_000).unwrap();
    // Oldest first.
    let strategies: Vec<&str> = events
        .iter()
        .rev()
        .filter(|e| e.kind == "strategy")
        .map(|e| e.message.as_str())
        .collect();
    // The first run is libFuzzer with the start arm, the next one is AFL++ (an engine
    // that has not run yet goes first), which ran to its end and said what it added.
    assert!(
        strategies
            .first()
            .is_some_and(|s| s.contains("plain (first run of the target)")),
        "{strategies:?}"
    );
    assert!(
        strategies.iter().any(|s| s.contains("aflpp:")),
        "{strategies:?}"
    );
    let afl_ends: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "aflpp")
        .map(|e| e.message.as_str())
        .collect();
    assert!(!afl_ends.is_empty(), "no AFL++ run ended: {log}");
    // AFL++ started from the corpus libFuzzer wrote and its finds went back into it:
    // nothing of its own is left behind.
    assert!(
        !fleet.state().join("aflpp").join("crash_magic").exists()
            || fs::read_dir(fleet.state().join("aflpp").join("crash_magic"))
                .unwrap()
                .next()
                .is_none()
    );
    // Whichever engine hit the planted bug, it is one bucket.
    fleet.triage();
    let bugs: Vec<serde_json::Value> = fleet
        .buckets()
        .into_iter()
        .filter(|b| b["target"] == "crash_magic" && !b["signature"].is_null())
        .collect();
    assert_eq!(bugs.len(), 1, "{bugs:#?}\n{afl_ends:?}");
    // The AFL++ arm was paid in libFuzzer's features, like every arm.
    let afl_arm = magic["strategies"].as_array().unwrap().iter().find(|s| {
        s["label"].as_str().unwrap().starts_with("aflpp:") && s["runs"].as_u64() > Some(0)
    });
    assert!(afl_arm.is_some(), "{magic}");
}
