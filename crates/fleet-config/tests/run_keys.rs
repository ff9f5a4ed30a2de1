//! `progress_every`, `[crashes] triage_deadline` and `[crashes] recoverable_severity`:
//! their defaults, the values they take, and the file:line: key of each bad value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_config::{defaults, parse};

fn file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("run-keys.toml")
}

fn problems(text: &str) -> Vec<String> {
    let error = parse(&file(), text).expect_err("invalid");
    assert!(error.all().all(|e| e.path == file()));
    error
        .all()
        .map(|e| format!("{}: {}: {}", e.line.unwrap(), e.key, e.message))
        .collect()
}

#[test]
fn defaults_when_absent() {
    let plan = parse(&file(), "workers = 0\n").unwrap();
    assert_eq!(plan.progress_every, Duration::from_secs(60));
    assert_eq!(plan.progress_every, defaults::PROGRESS_EVERY);
    assert_eq!(plan.crashes.triage_deadline, Duration::from_secs(30));
    assert_eq!(plan.crashes.triage_deadline, defaults::TRIAGE_DEADLINE);
    assert_eq!(plan.crashes.recoverable_severity, "low");
    assert_eq!(defaults::RECOVERABLE_SEVERITY, "low");
    // A [crashes] table that sets other keys keeps these defaults too.
    let plan = parse(&file(), "[crashes]\nkeep_inputs = 7\n").unwrap();
    assert_eq!(plan.crashes.triage_deadline, Duration::from_secs(30));
    assert_eq!(plan.crashes.recoverable_severity, "low");
}

#[test]
fn values_are_read() {
    let text = "progress_every = \"15s\"\n\
                [crashes]\ntriage_deadline = \"2m\"\nrecoverable_severity = \"medium\"\n";
    let plan = parse(&file(), text).unwrap();
    assert_eq!(plan.progress_every, Duration::from_secs(15));
    assert_eq!(plan.crashes.triage_deadline, Duration::from_secs(120));
    assert_eq!(plan.crashes.recoverable_severity, "medium");
    for name in defaults::SEVERITIES {
        let text = format!("[crashes]\nrecoverable_severity = \"{name}\"\n");
        assert_eq!(
            parse(Path::new(&file()), &text)
                .unwrap()
                .crashes
                .recoverable_severity,
            name
        );
    }
}

#[test]
fn bad_values_name_line_and_key() {
    assert_eq!(
        problems("workers = 1\nprogress_every = \"0s\"\n"),
        ["2: progress_every: duration \"0s\" must be positive"]
    );
    assert_eq!(
        problems("progress_every = \"often\"\n"),
        ["1: progress_every: invalid duration \"often\" (expected e.g. \"30s\", \"12h\", \"2d\")"]
    );
    assert_eq!(
        problems("[crashes]\ntriage_deadline = 30\n"),
        [
            "2: crashes.triage_deadline: invalid type: integer `30`, expected a duration string such as \"30s\", \"12h\" or \"2d\""
        ]
    );
    assert_eq!(
        problems("[crashes]\n\ntriage_deadline = \"0m\"\n"),
        ["3: crashes.triage_deadline: duration \"0m\" must be positive"]
    );
    assert_eq!(
        problems("[crashes]\nrecoverable_severity = \"warning\"\n"),
        [
            "2: crashes.recoverable_severity: unknown severity \"warning\" (expected \"critical\", \"high\", \"medium\" or \"low\")"
        ]
    );
    assert_eq!(
        problems("[crashes]\nrecoverable_severity = \"Low\"\n"),
        ["2: crashes.recoverable_severity: unknown severity \"Low\" (did you mean \"low\"?)"]
    );
    // All three at once: one load reports every problem, in line order.
    assert_eq!(
        problems(
            "progress_every = \"x\"\n[crashes]\ntriage_deadline = \"y\"\nrecoverable_severity = \"\"\n"
        )
        .len(),
        3
    );
}

#[test]
fn schedule_and_strategies_default_to_coverage_and_portfolio_and_name_a_bad_value() {
    let plan = parse(&file(), "workers = 0\n").unwrap();
    assert_eq!(plan.schedule, fleet_config::Schedule::Coverage);
    assert!(plan.portfolio);
    let plan = parse(&file(), "schedule = \"fixed\"\nstrategies = \"plain\"\n").unwrap();
    assert_eq!(plan.schedule, fleet_config::Schedule::Fixed);
    assert!(!plan.portfolio);
    let plan = parse(&file(), "schedule = \"equal\"\n").unwrap();
    assert_eq!(plan.schedule, fleet_config::Schedule::Equal);
    assert_eq!(
        problems("workers = 1\nschedule = \"fast\"\nstrategies = \"all\"\n"),
        [
            "2: schedule: unknown schedule \"fast\" (expected \"coverage\", \"fixed\" or \"equal\")",
            "3: strategies: unknown strategies \"all\" (expected \"portfolio\" or \"plain\")"
        ]
    );
}
