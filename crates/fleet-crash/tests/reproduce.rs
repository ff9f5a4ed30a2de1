//! Reproduction against real fixture binaries: always, sometimes, never, another bug, timeouts and the hard deadline.

mod common;

use std::time::Duration;

use common::{input, report, runner};
use fleet_crash::{Access, CrashKind, Repro, RunOutcome, Severity, Signature, SignatureConfig};
use fleet_engine::libfuzzer::ExitKind;
use fleet_testkit::{c_fixture, rust_fixture, state_temp_dir};

#[test]
fn a_panic_reproduces_always_with_the_signature_of_an_older_build() {
    let dir = state_temp_dir();
    let runner = runner(rust_fixture("six_bugs"));
    let path = input(dir.path(), "crash-a", b"A\x40tail");
    let result = runner.reproduce(&path, 3, None).unwrap();
    assert_eq!(result.repro, Repro::Always, "{:?}", result.runs);
    assert!(result.runs.iter().all(|r| r.exit == ExitKind::Crash));
    let report = result.report.unwrap();
    assert_eq!(report.kind, CrashKind::Panic);
    // Symbolized: std's backtrace and llvm-symbolizer's names both there.
    assert!(result.output.unwrap().contains("stack backtrace:"));
    assert_eq!(
        fleet_crash::title(&report),
        "panic: index out of bounds in six_bugs::lookup"
    );
    // The captured log came from an earlier build of the fixture whose
    // lines have since moved: the signature did not.
    let captured = Signature::of(
        &common::report("rust-index-oob"),
        &SignatureConfig::default(),
    );
    assert_eq!(result.signature.unwrap(), captured);
}

#[test]
fn a_flaky_crash_reproduces_sometimes() {
    let dir = state_temp_dir();
    let mut runner = runner(rust_fixture("six_bugs"));
    runner.env.push((
        "SIX_BUGS_FLAKY_FILE".into(),
        dir.path().join("toggle").into(),
    ));
    let path = input(dir.path(), "crash-j", b"J");
    let result = runner.reproduce(&path, 3, None).unwrap();
    let outcomes: Vec<_> = result.runs.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            RunOutcome::Reproduced,
            RunOutcome::NoCrash,
            RunOutcome::Reproduced
        ]
    );
    assert_eq!(result.repro, Repro::Sometimes);
    assert!(result.report.is_some());
}

#[test]
fn a_clean_input_never_reproduces() {
    let dir = state_temp_dir();
    let runner = runner(rust_fixture("six_bugs"));
    let path = input(dir.path(), "fine", b"A\x01");
    let result = runner.reproduce(&path, 2, None).unwrap();
    assert_eq!(result.repro, Repro::Never);
    assert!(result.runs.iter().all(|r| r.outcome == RunOutcome::NoCrash));
    assert!(result.report.is_none() && result.output.is_none());
}

#[test]
fn a_crash_with_another_signature_does_not_reproduce_the_bucket() {
    let dir = state_temp_dir();
    let runner = runner(rust_fixture("six_bugs"));
    let expected = Signature::of(&report("rust-index-oob"), &SignatureConfig::default());
    let path = input(dir.path(), "crash-b", b"B\xff\xff");
    let result = runner.reproduce(&path, 2, Some(&expected)).unwrap();
    assert_eq!(result.repro, Repro::Never);
    assert!(
        result
            .runs
            .iter()
            .all(|r| r.outcome == RunOutcome::OtherCrash)
    );
    assert_eq!(
        result.runs[0]
            .signature
            .as_ref()
            .unwrap()
            .message
            .as_deref(),
        Some("attempt to add with overflow")
    );
}

#[test]
fn c_memory_errors_reproduce_with_their_access() {
    let dir = state_temp_dir();
    let runner = runner(c_fixture("crash_memory"));
    let write = runner
        .reproduce(&input(dir.path(), "w", b"WR\x30xyz"), 1, None)
        .unwrap();
    assert_eq!(write.repro, Repro::Always);
    let report = write.report.unwrap();
    assert_eq!(report.kind, CrashKind::HeapBufferOverflow(Access::Write));
    assert_eq!(Severity::of(&report.kind), Severity::Critical);
    assert_eq!(report.frames[0].function.as_deref(), Some("store_record"));
    let uaf = runner
        .reproduce(&input(dir.path(), "u", b"UF\x07"), 1, None)
        .unwrap();
    assert_eq!(
        uaf.report.unwrap().kind,
        CrashKind::UseAfterFree(Access::Read)
    );
}

#[test]
fn a_timeout_reproduces_with_the_stack_from_the_alarm() {
    let dir = state_temp_dir();
    let mut runner = runner(rust_fixture("hang"));
    runner.limits.timeout_s = 1;
    let result = runner
        .reproduce(&input(dir.path(), "timeout-h", b"HANG"), 1, None)
        .unwrap();
    assert_eq!(result.repro, Repro::Always, "{:?}", result.runs);
    assert_eq!(result.runs[0].exit, ExitKind::Timeout);
    let signature = result.signature.unwrap();
    assert_eq!(signature.kind, CrashKind::Timeout);
    assert_eq!(signature.frames, ["__libfuzzer_sys_run@hang.rs"]);
}

#[test]
fn the_hard_deadline_stops_what_libfuzzer_does_not() {
    let dir = state_temp_dir();
    let mut runner = runner(rust_fixture("hang"));
    runner.limits.timeout_s = 600;
    runner.run_limits.deadline = Duration::from_secs(2);
    runner.run_limits.grace = Duration::from_millis(500);
    let result = runner
        .reproduce(&input(dir.path(), "timeout-h", b"HANG"), 1, None)
        .unwrap();
    assert_eq!(result.repro, Repro::Never);
    assert_eq!(result.runs[0].outcome, RunOutcome::DeadlineExceeded);
    assert!(result.runs[0].elapsed < Duration::from_secs(10));
}
