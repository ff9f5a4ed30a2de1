//! Workers per node chosen by measurement (issue 17.4): with `workers` unset and no
//! `--workers`, `run` measures 1, 2, … copies of a target, prints the curve and runs the
//! chosen number; a later run reuses the measurement; a number set stays exact. (The
//! decision itself, a knee this 2-core machine cannot show, is tested as a pure function
//! in fleet-run's `portfolio::workers`.)

mod support;

use std::fs;
use std::process::Output;

use support::Fleet;

fn run_once(fleet: &Fleet, extra: &[&str]) -> String {
    let mut args = vec!["run", "--no-build", "--once", "--budget", "3s"];
    args.extend_from_slice(extra);
    let out: Output = fleet.output(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stderr
}

/// The `fuzzfleet: workers: N of C cores, …` line: N and C.
fn chosen(stderr: &str) -> (usize, usize, String) {
    let line = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("fuzzfleet: workers: "))
        .find(|l| l.contains(" cores, measured"))
        .unwrap_or_else(|| panic!("no workers line in:\n{stderr}"));
    let mut words = line.split_whitespace();
    let n = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("of"), "{line}");
    let c = words.next().unwrap().parse().unwrap();
    (n, c, line.to_string())
}

fn plural_workers(n: usize) -> String {
    if n == 1 {
        "1 worker".into()
    } else {
        format!("{n} workers")
    }
}

#[test]
fn unset_workers_are_measured_then_reused_and_a_number_set_stays_exact() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // First run: measured, one line per count, then the choice and its curve.
    let first = run_once(&fleet, &[]);
    assert!(
        first.contains("fuzzfleet: workers: measuring clean with 1 copy: "),
        "{first}"
    );
    let (n, c, line) = chosen(&first);
    assert_eq!(c, cores, "{line}");
    assert!((1..=cores).contains(&n), "{line}");
    assert!(line.contains("measured on clean: 1 → "), "{line}");
    if cores >= 2 {
        // Two cores: the second count is always measured, taken or not.
        assert!(line.contains(", 2 → "), "{line}");
        assert!(
            first.contains("fuzzfleet: workers: measuring clean with 2 copies: "),
            "{first}"
        );
    }
    // The campaign runs the chosen number.
    assert!(
        first.contains(&format!("fuzzfleet: {}, 1 target", plural_workers(n))),
        "{first}"
    );
    // The scratch corpus is gone.
    assert!(!fleet.state().join("calibrate").exists());

    // status --json: the choice, the curve, and what it holds for.
    let status = fleet.status();
    let w = &status["workers"];
    assert_eq!(w["workers"], n, "{w:#}");
    assert_eq!(w["cores"], cores, "{w:#}");
    assert_eq!(w["target"], "clean", "{w:#}");
    let binary = fleet_testkit::rust_fixture("clean");
    assert_eq!(
        w["binary_size"],
        fs::metadata(&binary).unwrap().len(),
        "{w:#}"
    );
    let curve = w["curve"].as_array().unwrap();
    assert!((1..=cores).contains(&curve.len()), "{w:#}");
    assert_eq!(curve[0]["workers"], 1);
    assert!(curve[0]["execs_per_s"].as_f64().unwrap() > 100.0, "{w:#}");
    assert_eq!(
        curve.iter().filter(|p| p["accepted"] == true).count(),
        n,
        "{w:#}"
    );
    let measured_at = w["measured_at"].clone();
    assert!(measured_at.is_string(), "{w:#}");
    // The table says it too.
    let table = fleet.output(&["status"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains(&format!("workers: {n} of {cores} cores, measured ")),
        "{table}"
    );

    // Second run: the same binary on the same cores reuses it without measuring.
    let second = run_once(&fleet, &[]);
    assert!(!second.contains("workers: measuring"), "{second}");
    let (n2, _, line2) = chosen(&second);
    assert_eq!(n2, n, "{line2}");
    assert!(line2.contains("ago on clean (reused"), "{line2}");
    assert!(
        second.contains(&format!("fuzzfleet: {}, 1 target", plural_workers(n))),
        "{second}"
    );
    assert_eq!(fleet.status()["workers"]["measured_at"], measured_at);

    // --workers N is exact: no measurement, no workers line.
    let exact = run_once(&fleet, &["--workers", "1"]);
    assert!(!exact.contains("fuzzfleet: workers:"), "{exact}");
    assert!(exact.contains("fuzzfleet: 1 worker, 1 target"), "{exact}");
}

#[test]
fn a_number_in_the_config_skips_the_measurement() {
    let fleet = Fleet::with_top(
        "workers = 1\n",
        "[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n",
    );
    let out = run_once(&fleet, &[]);
    assert!(!out.contains("fuzzfleet: workers:"), "{out}");
    assert!(out.contains("fuzzfleet: 1 worker, 1 target"), "{out}");
    assert!(fleet.status()["workers"].is_null());
}

#[test]
fn a_target_that_cannot_be_measured_leaves_one_worker_per_core_and_says_why() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"fail_start\"]\nbudget = \"1h\"\n");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = fleet.output(&["run", "--no-build", "--once", "--budget", "3s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fuzzfleet: workers: cannot measure how many pay (measuring fail_start (1 at once): a copy ended with exit status: 1 after"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("): one per core, {cores}\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("fuzzfleet: {}, 1 target", plural_workers(cores))),
        "{stderr}"
    );
    assert!(!fleet.state().join("calibrate").exists());
    // Nothing measured, nothing kept: the next run tries again.
    assert!(fleet.status()["workers"].is_null());
}
