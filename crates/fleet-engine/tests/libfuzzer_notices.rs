//! Notice lines (seeds, artifacts, errors, panics, merges, replays) read from real libFuzzer output in `fixtures/logs/libfuzzer/`.

mod common;

use common::parse_log;
use fleet_engine::libfuzzer::{EngineError, Notice};

fn has(log: &str, want: &Notice) -> bool {
    parse_log(log).notices.contains(want)
}

#[test]
fn notices_that_explain_how_a_run_ended() {
    assert!(has(
        "crash-rust-panic.log",
        &Notice::Panic {
            thread: "<unnamed>".into(),
            location: "src/bin/crash.rs:5:9".into(),
        }
    ));
    assert!(has(
        "crash-rust-panic.log",
        &Notice::LibFuzzerError {
            pid: Some(5134),
            error: EngineError::DeadlySignal,
        }
    ));
    assert!(has(
        "crash-rust-panic.log",
        &Notice::ArtifactWritten {
            prefix: Some("art/".into()),
            path: "art/crash-f2777ec41a9b8ee4d97ed1771e382e26848e1fa6".into(),
        }
    ));
    assert!(has("timeout.log", &Notice::Alarm { seconds: 3 }));
    assert!(has(
        "timeout.log",
        &Notice::LibFuzzerError {
            pid: Some(5161),
            error: EngineError::Timeout { seconds: 3 },
        }
    ));
    assert!(has(
        "oom-rss-limit.log",
        &Notice::LibFuzzerError {
            pid: Some(5263),
            error: EngineError::OutOfMemoryRss {
                used_mb: 359,
                limit_mb: 256
            },
        }
    ));
    assert!(has(
        "oom-malloc-limit.log",
        &Notice::LibFuzzerError {
            pid: Some(5273),
            error: EngineError::OutOfMemoryMalloc { bytes: 314_572_800 },
        }
    ));
    assert!(has(
        "crash-asan-heap-buffer-overflow.log",
        &Notice::Summary {
            tool: "AddressSanitizer".into(),
            text: "heap-buffer-overflow (/tmp/engine-probe/c/hbo+0xddfd9) (BuildId: \
               d7b78855cbb692223691769b845374de8f7e09d1) in __asan_memcpy"
                .into(),
        }
    ));
    let asan = parse_log("crash-asan-heap-buffer-overflow.log");
    assert!(asan.notices.iter().any(|n| matches!(n,
        Notice::SanitizerError { pid: 9800, sanitizer, description }
            if sanitizer == "AddressSanitizer" && description.starts_with("heap-buffer-overflow on address"))));
    assert!(has(
        "leak.log",
        &Notice::SanitizerError {
            pid: 9766,
            sanitizer: "LeakSanitizer".into(),
            description: "detected memory leaks".into(),
        }
    ));
    assert!(has("leak-seed-on-load.log", &Notice::LeakInInitialCorpus));
    assert!(has("slow-unit.log", &Notice::SlowestUnit { seconds: 2 }));
    assert!(has(
        "interrupted-sigterm.log",
        &Notice::Interrupted { pid: 11400 }
    ));
    assert!(has(
        "fork-ignore-crashes.log",
        &Notice::ForkExit {
            code: 77,
            elapsed_s: 12
        }
    ));
    assert!(has(
        "fork-ignore-crashes.log",
        &Notice::ForkStarted { jobs: 1 }
    ));
}

#[test]
fn notices_about_start_up() {
    assert!(has("fuzz-final-stats.log", &Notice::Seed(1234)));
    assert!(has("fuzz-final-stats.log", &Notice::EmptyCorpus));
    assert!(has(
        "crash-seed-on-load.log",
        &Notice::FilesFound {
            count: 3,
            dir: "seeds".into()
        }
    ));
    assert!(has(
        "crash-seed-on-load.log",
        &Notice::SeedCorpus {
            files: 3,
            min_bytes: 5,
            max_bytes: 8,
            total_bytes: 20,
            rss_mb: 32,
        }
    ));
    assert!(has(
        "reload-worker1.log",
        &Notice::SeedCorpus {
            files: 539,
            min_bytes: 2,
            max_bytes: 32768,
            total_bytes: 8_515_915,
            rss_mb: 33,
        }
    ));
    assert!(has(
        "done-runs-dict.log",
        &Notice::Dictionary { entries: 2 }
    ));
    assert!(has(
        "unrecognized-flag.log",
        &Notice::UnrecognizedFlag {
            flag: "-rss_limt_mb=3".into()
        }
    ));
    assert!(has(
        "startup-missing-corpus-dir.log",
        &Notice::Error {
            message: r#"The required directory "/nonexistent/corpus" does not exist"#.into(),
        }
    ));
    assert!(has(
        "startup-missing-artifact-dir.log",
        &Notice::Error {
            message: r#"The required directory "art/" does not exist"#.into(),
        }
    ));
    assert!(has(
        "startup-missing-library.log",
        &Notice::SharedLibraryMissing {
            library: "libprobehelper.so".into(),
        }
    ));
    assert_eq!(
        parse_log("startup-init-panic.log").notices,
        [Notice::Panic {
            thread: "<unnamed>".into(),
            location: "src/bin/startfail.rs:6:54".into(),
        }]
    );
    let reload = parse_log("reload-worker0.log");
    assert!(reload.notices.iter().any(|n| matches!(n,
        Notice::NewFunc { function } if function.contains("sizes::bucket::{closure#1}"))));
}

#[test]
fn notices_from_merges_and_replays() {
    assert!(has(
        "merge.log",
        &Notice::MergeSummary {
            new_files: 564,
            new_features: 1229,
            new_coverage_edges: 412,
        }
    ));
    assert!(has(
        "merge-crash-resistant.log",
        &Notice::MergeSkipped {
            path: "../seedcrash/seeds/bad".into(),
        }
    ));
    assert!(has(
        "merge-crash-resistant.log",
        &Notice::MergeSummary {
            new_files: 6,
            new_features: 39,
            new_coverage_edges: 39,
        }
    ));
    let files = parse_log("replay-files.log").notices;
    let ran: Vec<&Notice> = files
        .iter()
        .filter(|n| matches!(n, Notice::Running { .. } | Notice::Executed { .. }))
        .collect();
    assert_eq!(ran.len(), 4);
    assert_eq!(
        ran[1],
        &Notice::Executed {
            path: "../normal/corpus/00cc55804a727a45af93f1c1016218fd88d45ca6".into(),
            ms: 0,
        }
    );
    // A crash while running one file: `Running:` with no `Executed`.
    let repro = parse_log("reproduce-crash.log").notices;
    assert!(repro.iter().any(|n| matches!(n, Notice::Running { path } if path.ends_with("crash-f2777ec41a9b8ee4d97ed1771e382e26848e1fa6"))));
    assert!(!repro.iter().any(|n| matches!(n, Notice::Executed { .. })));
    assert!(has(
        "fuzz-final-stats.log",
        &Notice::RunsDone {
            runs: 1_699_197,
            seconds: 9
        }
    ));
}
