//! Hangs are bucketed on the project frames of the thread that hung, from the whole
//! report a worker printed (libFuzzer prints a timeout's stack after its artifact line).

mod common;

use fleet_crash::{CrashKind, Signature, SignatureConfig, meaningful_frames, parse_report, title};
use fleet_engine::libfuzzer::{Assembled, ReportAssembler};

/// The report of the one artifact in a captured worker log, as the worker's reader
/// assembles it.
fn worker_report(log: &str) -> String {
    let mut a = ReportAssembler::new();
    let mut got: Vec<Assembled> = Vec::new();
    for line in common::log(log).lines() {
        got.extend(a.feed(line));
    }
    got.extend(a.end());
    match got.as_slice() {
        [Assembled::Artifact { report, .. }] => report.clone(),
        other => panic!("{log}: {other:#?}"),
    }
}

#[test]
fn a_hang_in_a_thread_join_is_bucketed_on_the_destructor_that_joins() {
    let report = parse_report(&worker_report("libfuzzer/timeout-cpp-join.log")).unwrap();
    assert_eq!(report.kind, CrashKind::Timeout);
    let meaningful = meaningful_frames(&report.frames);
    let names: Vec<&str> = meaningful
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    // The alarm handler, the futex wait, the join and std::thread::join are skipped.
    assert_eq!(
        names,
        [
            "(anonymous namespace)::Pool::~Pool()",
            "LLVMFuzzerTestOneInput"
        ]
    );
    assert_eq!(
        title(&report),
        "timeout in (anonymous namespace)::Pool::~Pool"
    );
    let signature = Signature::of(&report, &SignatureConfig::default());
    assert_eq!(
        signature.frames,
        ["~Pool@hang_join.cc", "LLVMFuzzerTestOneInput@hang_join.cc"]
    );
}

#[test]
fn a_rust_hang_is_bucketed_on_the_fuzz_body() {
    let report = parse_report(&worker_report("libfuzzer/timeout.log")).unwrap();
    assert_eq!(report.kind, CrashKind::Timeout);
    assert_eq!(title(&report), "timeout in hang::__libfuzzer_sys_run");
}

#[test]
fn the_report_up_to_the_artifact_line_alone_has_no_stack() {
    // What the worker's reader kept before reports were assembled whole: every hang of
    // a target fell into one frameless `timeout` bucket.
    let log = common::log("libfuzzer/timeout-cpp-join.log");
    let upto: String = log
        .lines()
        .take_while(|l| !l.contains("Test unit written to"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(parse_report(&upto).is_none_or(|r| r.frames.is_empty()));
}
