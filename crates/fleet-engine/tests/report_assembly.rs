//! Whole reports out of real captured worker output, in each order libFuzzer prints them.

mod common;

use fleet_engine::libfuzzer::{
    Assembled, CONTEXT_LINES, Notice, REPORT_MAX_LINES, ReportAssembler,
};

/// What the assembler produced, each with the 1-based line that completed it (0: the end).
fn assemble(text: &str) -> Vec<(usize, Assembled)> {
    let mut a = ReportAssembler::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        out.extend(a.feed(line).into_iter().map(|x| (i + 1, x)));
    }
    out.extend(a.end().into_iter().map(|x| (0, x)));
    out
}

fn line_of(text: &str, starts: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(starts))
        .unwrap_or_else(|| panic!("no line starting {starts:?}"))
        + 1
}

/// The one artifact of a log, the line that completed it, its report.
fn one_artifact(name: &str) -> (usize, String, String) {
    let text = common::read(name);
    let got = assemble(&text);
    match &got[..] {
        [(at, Assembled::Artifact { path, report })] => (*at, path.clone(), report.clone()),
        other => panic!("{name}: {other:#?}"),
    }
}

#[test]
fn a_timeout_report_runs_past_its_artifact_line_to_the_summary() {
    for name in ["timeout.log", "timeout-cpp-join.log"] {
        let text = common::read(name);
        let (at, path, report) = one_artifact(name);
        assert!(path.starts_with("art/timeout-"), "{path}");
        assert_eq!(at, line_of(&text, "SUMMARY: libFuzzer: timeout"), "{name}");
        assert!(
            report.starts_with("ALARM: working on the last Unit"),
            "{report}"
        );
        assert!(report.contains("Test unit written to art/timeout-"));
        assert!(report.contains("ERROR: libFuzzer: timeout after 3 seconds"));
        assert!(report.contains("in fuzzer::Fuzzer::AlarmCallback()"));
        assert!(report.ends_with("SUMMARY: libFuzzer: timeout"), "{report}");
    }
    let (_, _, report) = one_artifact("timeout-cpp-join.log");
    assert!(report.contains("std::thread::join()"));
    assert!(report.contains("(anonymous namespace)::Pool::~Pool()"));
}

#[test]
fn an_oom_report_keeps_its_heap_profile_and_ends_at_the_summary_after_the_artifact() {
    let text = common::read("oom-rss-limit.log");
    let (at, path, report) = one_artifact("oom-rss-limit.log");
    assert!(path.starts_with("art/oom-"));
    assert_eq!(at, line_of(&text, "SUMMARY: libFuzzer: out-of-memory"));
    assert!(
        report.starts_with("==5263== ERROR: libFuzzer: out-of-memory (used: 359Mb; limit: 256Mb)")
    );
    assert!(report.contains("Live Heap Allocations:"));
    assert!(report.contains("Base64: Tw=="));
    assert!(report.ends_with("SUMMARY: libFuzzer: out-of-memory"));
}

#[test]
fn crash_and_leak_reports_end_with_the_base64_line_after_their_artifact() {
    for (name, prefix, first) in [
        (
            "crash-asan-heap-buffer-overflow.log",
            "art/crash-",
            "==9800==ERROR: AddressSanitizer: heap-buffer-overflow",
        ),
        ("crash-rust-panic.log", "art/crash-", "thread '<unnamed>'"),
        (
            "leak.log",
            "art/leak-",
            "==9766==ERROR: LeakSanitizer: detected memory leaks",
        ),
        ("crash-seed-on-load.log", "crash-", "thread '<unnamed>'"),
    ] {
        let text = common::read(name);
        let (at, path, report) = one_artifact(name);
        assert!(path.contains(prefix), "{name}: {path}");
        // Completed by the Base64 line itself, not only when the output ended.
        assert_eq!(at, line_of(&text, "Base64: "), "{name}");
        assert!(report.contains(first), "{name}: {report}");
        assert!(report.contains("SUMMARY: "), "{name}");
        assert!(
            report
                .lines()
                .rev()
                .nth(1)
                .unwrap()
                .contains("Test unit written to"),
            "{name}"
        );
        assert!(report.ends_with(text.lines().find(|l| l.starts_with("Base64: ")).unwrap()));
    }
}

#[test]
fn a_slow_unit_is_complete_at_its_artifact_and_fuzzing_goes_on() {
    let text = common::read("slow-unit.log");
    let (at, path, report) = one_artifact("slow-unit.log");
    assert!(path.starts_with("art/slow-unit-"));
    assert_eq!(at, line_of(&text, "artifact_prefix="));
    assert_eq!(
        report,
        "Slowest unit: 2 s:\nartifact_prefix='art/'; Test unit written to art/slow-unit-ba3189fb712d534af1ea2fe27ea107dbdc296775"
    );
}

#[test]
fn runs_without_reports_and_start_up_failures_give_nothing() {
    for name in [
        "fuzz-final-stats.log",
        "interrupted-sigterm.log",
        "reload-worker0.log",
        "done-runs-dict.log",
        "unrecognized-flag.log",
        "startup-init-panic.log",
        "startup-missing-corpus-dir.log",
        "startup-missing-library.log",
        // The fork-mode parent relays its children's errors, without artifacts.
        "fork-ignore-crashes.log",
        "fork-timeouts.log",
    ] {
        assert_eq!(assemble(&common::read(name)), [], "{name}");
    }
}

/// A real log cut just before its line starting `cut`, as a worker stopped then leaves it.
fn cut_before(name: &str, cut: &str) -> String {
    let text = common::read(name);
    let n = line_of(&text, cut) - 1;
    text.lines().take(n).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_report_cut_off_before_its_artifact_is_a_lost_report() {
    // A panic interrupted while printing (issue 13.16): the stack, then SIGTERM.
    let text = cut_before("crash-rust-panic.log", "NOTE: libFuzzer has rudimentary")
        + "\n==4242== libFuzzer: run interrupted; exiting\nstat::number_of_executed_units: 1234";
    match &assemble(&text)[..] {
        [(0, Assembled::LostReport { report })] => {
            assert!(report.contains("panicked at"), "{report}");
            assert!(report.contains("ERROR: libFuzzer: deadly signal"));
            assert!(report.ends_with("run interrupted; exiting"), "{report}");
        }
        other => panic!("{other:#?}"),
    }
    // A timeout whose worker was killed after the alarm, before the artifact.
    let text = cut_before("timeout.log", "MS: ");
    assert!(
        matches!(&assemble(&text)[..], [(0, Assembled::LostReport { report })] if report.starts_with("ALARM"))
    );
    // An OOM report cut in its heap profile.
    let text = cut_before("oom-rss-limit.log", "MS: ");
    assert!(matches!(
        &assemble(&text)[..],
        [(0, Assembled::LostReport { .. })]
    ));
}

#[test]
fn an_artifact_whose_report_was_cut_off_is_still_an_artifact_with_what_was_printed() {
    let text = cut_before("timeout-cpp-join.log", "==");
    match &assemble(&text)[..] {
        [(0, Assembled::Artifact { path, report })] => {
            assert!(path.starts_with("art/timeout-"));
            assert!(report.starts_with("ALARM") && report.contains("Base64: "));
        }
        other => panic!("{other:#?}"),
    }
}

#[test]
fn recoverable_ubsan_reports_are_told_apart_from_fatal_ones_by_what_follows() {
    let text = common::read("ubsan-recover.log");
    let got = assemble(&text);
    let summaries: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("SUMMARY: UndefinedBehaviorSanitizer"))
        .map(|(i, _)| i + 1)
        .collect();
    let runtime_errors = common::parse_log("ubsan-recover.log")
        .notices
        .iter()
        .filter(|n| matches!(n, Notice::RuntimeError { .. }))
        .count();
    assert_eq!((got.len(), runtime_errors), (2, 2), "{got:#?}");
    let mut locations = Vec::new();
    for ((at, a), summary) in got.iter().zip(&summaries) {
        // Decided by the line after its summary, while the worker goes on fuzzing.
        assert_eq!(*at, summary + 1);
        let Assembled::Recoverable {
            location,
            message,
            report,
        } = a
        else {
            panic!("{a:#?}");
        };
        assert!(report.starts_with(&format!("{location}: runtime error: {message}")));
        assert!(report.ends_with(&format!("{location} in ")), "{report}");
        locations.push((
            location.rsplit('/').next().unwrap().to_owned(),
            message.clone(),
        ));
    }
    assert_eq!(locations[0].0, "ubsan_recover.c:16:12");
    assert!(locations[0].1.starts_with("load of misaligned address"));
    let Assembled::Recoverable { report, .. } = &got[0].1 else {
        unreachable!()
    };
    assert!(report.contains("note: pointer points here"));
    assert_eq!(locations[1].0, "ubsan_recover.c:12:18");
    assert!(locations[1].1.starts_with("signed integer overflow"));

    // Built or run to halt, the same report is a crash's, with its artifact.
    let (_, path, report) = one_artifact("ubsan-halt.log");
    assert!(path.starts_with("art/crash-"));
    assert!(report.starts_with(
        "/work/main/fixtures/c/ubsan_recover.c:16:12: runtime error: load of misaligned address"
    ));
    assert!(report.contains("SUMMARY: UndefinedBehaviorSanitizer"));
}

#[test]
fn a_recoverable_report_before_a_crash_is_its_own_and_not_part_of_the_crash() {
    let ubsan = common::read("ubsan-recover.log");
    let ubsan: Vec<&str> = ubsan
        .lines()
        .take_while(|l| !l.starts_with("#7177"))
        .collect();
    let crash = common::read("crash-asan-heap-buffer-overflow.log");
    let crash_report: Vec<&str> = crash
        .lines()
        .skip_while(|l| !l.starts_with("==9800==ERROR"))
        .collect();
    let text = format!("{}\n{}", ubsan.join("\n"), crash_report.join("\n"));
    let got = assemble(&text);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(matches!(&got[0].1, Assembled::Recoverable { .. }));
    let Assembled::Artifact { report, .. } = &got[1].1 else {
        panic!("{got:#?}")
    };
    assert!(
        report.starts_with("==9800==ERROR: AddressSanitizer"),
        "{report}"
    );
}

#[test]
fn reports_in_a_row_each_end_where_the_next_begins() {
    // A slow unit, then a timeout, then (another process) a crash: three artifacts.
    let text = [
        common::read("slow-unit.log"),
        common::read("timeout.log"),
        common::read("crash-asan-heap-buffer-overflow.log"),
    ]
    .join("\n");
    let kinds: Vec<String> = assemble(&text)
        .into_iter()
        .map(|(_, a)| match a {
            Assembled::Artifact { path, report } => {
                assert_eq!(
                    report.matches("Test unit written to").count(),
                    1,
                    "{report}"
                );
                path.rsplit('/')
                    .next()
                    .unwrap()
                    .split('-')
                    .next()
                    .unwrap()
                    .to_owned()
            }
            other => panic!("{other:#?}"),
        })
        .collect();
    assert_eq!(kinds, ["slow", "timeout", "crash"]);
}

#[test]
fn memory_stays_bounded_whatever_the_harness_prints() {
    let mut text =
        String::from("INFO: Seed: 1\n#2\tINITED cov: 1 ft: 1 corp: 1/1b exec/s: 0 rss: 30Mb\n");
    for i in 0..10 * CONTEXT_LINES {
        text.push_str(&format!("harness says {i}\n"));
    }
    text.push_str("==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1\n");
    for i in 0..3 * REPORT_MAX_LINES {
        text.push_str(&format!("    #{i} 0x1 in f /x.c:1:1\n"));
    }
    text.push_str("SUMMARY: AddressSanitizer: heap-buffer-overflow /x.c:1:1 in f\n");
    text.push_str("artifact_prefix='a/'; Test unit written to a/crash-1\nBase64: QQ==\n");
    let got = assemble(&text);
    let [(_, Assembled::Artifact { report, .. })] = &got[..] else {
        panic!("{got:#?}")
    };
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines.len() <= REPORT_MAX_LINES + 1, "{}", lines.len());
    assert!(
        lines[0].starts_with("[fuzzfleet: ") && lines[0].ends_with(" lines of output not kept]")
    );
    assert!(report.contains("ERROR: AddressSanitizer: heap-buffer-overflow"));
    assert!(!report.contains("harness says 0\n"));
}

#[test]
fn every_artifact_of_every_captured_worker_log_comes_with_its_whole_report() {
    for name in [
        "crash-asan-heap-buffer-overflow.log",
        "crash-rust-panic.log",
        "crash-seed-on-load.log",
        "leak.log",
        "leak-seed-on-load.log",
        "oom-malloc-limit.log",
        "oom-rss-limit.log",
        "oom-seed-on-load.log",
        "slow-unit.log",
        "timeout.log",
        "timeout-cpp-join.log",
        "ubsan-halt.log",
    ] {
        let text = common::read(name);
        let got = assemble(&text);
        assert_eq!(
            got.len(),
            text.matches("Test unit written to").count(),
            "{name}: {got:#?}"
        );
        for (_, a) in &got {
            let Assembled::Artifact { report, .. } = a else {
                panic!("{name}: {a:#?}");
            };
            // The report's own lines: its error (or slow-unit line) and, but for a slow
            // unit, its summary.
            assert!(
                report.contains("ERROR")
                    || report.contains("runtime error:")
                    || report.starts_with("Slowest unit:")
                    || report.contains("panicked at"),
                "{name}: {report}"
            );
            assert!(
                report.contains("SUMMARY: ") || report.starts_with("Slowest unit:"),
                "{name}: {report}"
            );
        }
    }
}

/// The lines (1-based) during which `writing_report` held, for a whole log.
fn writing_lines(text: &str) -> Vec<usize> {
    let mut a = ReportAssembler::new();
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            a.feed(line);
            a.writing_report().then_some(i + 1)
        })
        .collect()
}

#[test]
fn a_report_is_being_written_from_its_first_line_until_the_process_goes_on() {
    // A crash: from the panic line to its artifact line (its Base64 line ends it).
    let text = common::read("crash-rust-panic.log");
    let writing = writing_lines(&text);
    let first = line_of(&text, "thread '<unnamed>'");
    let artifact = line_of(&text, "artifact_prefix=");
    assert_eq!(writing, (first..=artifact).collect::<Vec<_>>());
    // A timeout, whose artifact line comes before the stack: still writing after it.
    let text = common::read("timeout-cpp-join.log");
    let writing = writing_lines(&text);
    let artifact = line_of(&text, "artifact_prefix=");
    assert!(writing.contains(&artifact) && writing.contains(&(artifact + 1)));
    assert!(!writing.contains(&line_of(&text, "#2\tINITED")));
    // A recovered UBSan report, after which fuzzing went on: not writing once the next
    // status line says so.
    let text = common::read("ubsan-recover.log");
    let writing = writing_lines(&text);
    let lines: Vec<&str> = text.lines().collect();
    let last_status = lines.iter().rposition(|l| l.starts_with('#')).unwrap() + 1;
    assert!(!writing.contains(&last_status), "{writing:?}");
}
