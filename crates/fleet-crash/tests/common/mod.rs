//! Shared helpers for fleet-crash's integration tests: captured logs and parsed reports.
#![allow(dead_code)]

use std::path::PathBuf;

use fleet_crash::{Crash, InputKey, Report, SignatureConfig, parse_report};

pub fn logs_dir() -> PathBuf {
    fleet_testkit::repo_root().join("fixtures/logs")
}

/// The text of a captured log, `reports/NAME.log` or `libfuzzer/NAME.log`.
pub fn log(path: &str) -> String {
    let file = logs_dir().join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The report of `fixtures/logs/reports/NAME.log`.
pub fn report(name: &str) -> Report {
    parse_report(&log(&format!("reports/{name}.log")))
        .unwrap_or_else(|| panic!("no report in reports/{name}.log"))
}

/// A crash of `target` from the captured report `name`, with input bytes `input`.
pub fn crash(target: &str, name: &str, input: &[u8]) -> Crash {
    Crash::new(
        target,
        InputKey::of(input),
        &report(name),
        &SignatureConfig::default(),
    )
}
