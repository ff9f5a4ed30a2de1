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

/// A runner for a fixture binary with the campaign limits the tests use:
/// 5 s per input, 2 GB, and the ASan options fleet-build says Rust
/// targets need.
pub fn runner(binary: std::path::PathBuf) -> fleet_crash::TargetRunner {
    let limits = fleet_engine::libfuzzer::Limits {
        rss_limit_mb: 2048,
        malloc_limit_mb: None,
        timeout_s: 5,
    };
    let mut runner = fleet_crash::TargetRunner::new(binary, limits);
    let asan = fleet_build::Sanitizer::Address
        .runtime_asan_options()
        .unwrap();
    runner.env = vec![("ASAN_OPTIONS".into(), asan.into())];
    runner.scratch_dir = Some(fleet_testkit::repo_root().join("target/test-tmp"));
    std::fs::create_dir_all(runner.scratch_dir.as_ref().unwrap()).unwrap();
    runner
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn input(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
