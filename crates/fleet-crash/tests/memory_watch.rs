//! An input libFuzzer dumped because fuzzfleet's memory watch stopped the worker near
//! its limit is an out-of-memory, though libFuzzer reports a deadly signal.

mod common;

use fleet_crash::{CrashKind, MEMORY_WATCH_OOM, Severity, parse_report, title};

#[test]
fn the_memory_watch_line_makes_the_dumped_input_an_out_of_memory() {
    // A finding's report as a campaign kept it: fuzzfleet's line, then libFuzzer's
    // report of the SIGABRT the watch sent.
    let text = common::log("reports/rust-oom-memory-watch.log");
    assert!(text.starts_with(MEMORY_WATCH_OOM));
    let report = parse_report(&text).unwrap();
    assert_eq!(report.kind, CrashKind::OutOfMemory);
    assert!(
        report
            .description
            .starts_with("out-of-memory (used: 241Mb; exceeds: 256Mb)")
    );
    assert_eq!(title(&report), "out-of-memory in oom::__libfuzzer_sys_run");
    assert_eq!(Severity::of(&report.kind), Severity::Low);
    // Without fuzzfleet's line it is the deadly signal libFuzzer saw.
    let rest: String = text.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(parse_report(&rest).unwrap().kind, CrashKind::DeadlySignal);
}
