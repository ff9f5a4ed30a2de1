//! Parser tests over real libFuzzer output captured in `fixtures/logs/libfuzzer/` (see its README for how each log was made).

mod common;

use std::collections::BTreeSet;

use common::{logs_dir, parse_log, read};

use fleet_engine::FindingKind::{self, Crash, Leak, Oom, SlowUnit, Timeout};
use fleet_engine::libfuzzer::{
    ExitKind, FinalStats, ForkJob, LogLine, Notice, ParseErrorKind, Status, StatusEvent,
    classify_artifact, classify_exit, parse_final_stats, parse_line,
};

/// What each captured run must produce, from its README row.
struct Expect {
    log: &'static str,
    /// `(code, signal)` as the process really ended.
    exit: (Option<i32>, Option<i32>),
    exit_kind: ExitKind,
    statuses: usize,
    inited: bool,
    /// Kinds of the artifacts announced in the log, in order.
    artifacts: &'static [FindingKind],
    /// `stat::number_of_executed_units`, if the run printed final stats.
    final_execs: Option<u64>,
}

const fn e(
    log: &'static str,
    exit: (Option<i32>, Option<i32>),
    exit_kind: ExitKind,
    statuses: usize,
    inited: bool,
    artifacts: &'static [FindingKind],
    final_execs: Option<u64>,
) -> Expect {
    Expect {
        log,
        exit,
        exit_kind,
        statuses,
        inited,
        artifacts,
        final_execs,
    }
}

const CODE_0: (Option<i32>, Option<i32>) = (Some(0), None);
const CODE_1: (Option<i32>, Option<i32>) = (Some(1), None);
const CODE_70: (Option<i32>, Option<i32>) = (Some(70), None);
const CODE_71: (Option<i32>, Option<i32>) = (Some(71), None);
const CODE_77: (Option<i32>, Option<i32>) = (Some(77), None);

#[rustfmt::skip]
const EXPECTED: &[Expect] = &[
    e("big-corpus.log", CODE_0, ExitKind::Done, 53, true, &[], Some(2000)),
    e("crash-asan-heap-buffer-overflow.log", CODE_1, ExitKind::SanitizerOrStartupError, 7, true, &[Crash], None),
    e("crash-rust-panic.log", CODE_77, ExitKind::Crash, 17, true, &[Crash], None),
    e("crash-seed-on-load.log", CODE_77, ExitKind::Crash, 0, false, &[Crash], None),
    e("done-runs-dict.log", CODE_0, ExitKind::Done, 2, true, &[], None),
    e("fork-ignore-crashes.log", CODE_77, ExitKind::Crash, 28, false, &[], None),
    e("fork-timeouts.log", CODE_70, ExitKind::Timeout, 4, false, &[], None),
    e("fuzz-final-stats.log", CODE_0, ExitKind::Done, 28, true, &[], Some(1_699_197)),
    e("interrupted-sigterm.log", (Some(72), None), ExitKind::Interrupted, 2, true, &[], Some(613_038)),
    e("leak-seed-on-load.log", CODE_77, ExitKind::Crash, 0, false, &[Leak], None),
    e("leak.log", CODE_77, ExitKind::Crash, 4, true, &[Leak], None),
    e("merge-crash-resistant.log", CODE_0, ExitKind::Done, 6, false, &[Crash], None),
    e("merge.log", CODE_0, ExitKind::Done, 11, false, &[], None),
    e("oom-malloc-limit.log", CODE_71, ExitKind::Oom, 2, true, &[Oom], None),
    e("oom-rss-limit.log", CODE_71, ExitKind::Oom, 2, true, &[Oom], None),
    e("oom-seed-on-load.log", CODE_71, ExitKind::Oom, 0, false, &[Oom], None),
    e("reload-worker0.log", CODE_0, ExitKind::Done, 151, true, &[], Some(67_597)),
    e("reload-worker1.log", CODE_0, ExitKind::Done, 98, true, &[], Some(45_684)),
    e("replay-dir.log", CODE_0, ExitKind::Done, 2, true, &[], None),
    e("replay-files.log", CODE_0, ExitKind::Done, 0, false, &[], None),
    e("reproduce-crash.log", CODE_77, ExitKind::Crash, 0, false, &[], None),
    e("slow-unit.log", CODE_0, ExitKind::Done, 5, true, &[SlowUnit], Some(533)),
    e("startup-init-panic.log", (None, Some(6)), ExitKind::Signal(6), 0, false, &[], None),
    e("startup-missing-artifact-dir.log", CODE_1, ExitKind::SanitizerOrStartupError, 0, false, &[], None),
    e("startup-missing-corpus-dir.log", CODE_1, ExitKind::SanitizerOrStartupError, 0, false, &[], None),
    e("startup-missing-library.log", (Some(127), None), ExitKind::Other(127), 0, false, &[], None),
    e("timeout.log", CODE_70, ExitKind::Timeout, 1, true, &[Timeout], None),
    e("timeout-cpp-join.log", CODE_70, ExitKind::Timeout, 12, true, &[Timeout], None),
    e("ubsan-halt.log", CODE_1, ExitKind::SanitizerOrStartupError, 4, true, &[Crash], None),
    e("ubsan-recover.log", CODE_0, ExitKind::Done, 34, true, &[], Some(12_293_697)),
    e("unrecognized-flag.log", CODE_0, ExitKind::Done, 3, true, &[], None),
];

/// A status line by the shape libFuzzer prints, independent of the parser.
fn is_status_shaped(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(rest.as_bytes().get(digits), Some(b'\t' | b':'))
}

#[test]
fn every_captured_log_has_an_expectation() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(logs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    let expected: BTreeSet<String> = EXPECTED.iter().map(|e| e.log.to_owned()).collect();
    assert_eq!(on_disk, expected);
}

#[test]
fn every_line_of_every_log_parses_and_every_status_line_is_a_status() {
    for exp in EXPECTED {
        let text = read(exp.log);
        for (i, line) in text.lines().enumerate() {
            let parsed = parse_line(line).unwrap_or_else(|e| panic!("{}:{}: {e}", exp.log, i + 1));
            if is_status_shaped(line) {
                assert!(
                    matches!(parsed, Some(LogLine::Status(_))),
                    "{}:{}: status-shaped line not read as a status",
                    exp.log,
                    i + 1
                );
            }
        }
    }
}

#[test]
fn each_log_yields_what_its_run_produced() {
    for exp in EXPECTED {
        let p = parse_log(exp.log);
        let log = exp.log;
        assert_eq!(p.statuses.len(), exp.statuses, "{log}: status lines");
        let inited = p.statuses.iter().any(|s| s.event == StatusEvent::Inited);
        assert_eq!(inited, exp.inited, "{log}: INITED");
        let artifacts: Vec<FindingKind> = p
            .notices
            .iter()
            .filter_map(|n| match n {
                Notice::ArtifactWritten { path, .. } => {
                    let file = path.rsplit('/').next().unwrap();
                    Some(
                        classify_artifact(file)
                            .unwrap_or_else(|| panic!("{log}: {path}"))
                            .0,
                    )
                }
                _ => None,
            })
            .collect();
        assert_eq!(artifacts, exp.artifacts, "{log}: artifacts");
        assert_eq!(
            classify_exit(exp.exit.0, exp.exit.1),
            exp.exit_kind,
            "{log}: exit"
        );
        let stats = parse_final_stats(&read(log));
        match exp.final_execs {
            Some(n) => assert_eq!(stats.unwrap().executed_units, n, "{log}: final stats"),
            None => assert_eq!(
                stats.unwrap_err().kind,
                ParseErrorKind::Missing("number_of_executed_units"),
                "{log}: final stats"
            ),
        }
    }
}

fn status_line(log: &str, prefix: &str) -> Status {
    let text = read(log);
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("{log}: no line starting {prefix:?}"));
    match parse_line(line) {
        Ok(Some(LogLine::Status(s))) => s,
        other => panic!("{log}: {line:?} gave {other:?}"),
    }
}

#[test]
fn hand_checked_status_lines() {
    // #1149\tNEW    cov: 23 ft: 38 corp: 10/64b lim: 14 exec/s: 0 rss: 38Mb L: 12/12 MS: 3 CrossOver-CMP-CrossOver- DE: "\001\000\000\000"-
    let s = status_line("fuzz-final-stats.log", "#1149\t");
    assert_eq!(s.event, StatusEvent::New);
    assert_eq!((s.execs, s.cov, s.ft), (1149, Some(23), Some(38)));
    assert_eq!(
        (s.corpus_files, s.corpus_bytes, s.lim),
        (Some(10), Some(64), Some(14))
    );
    assert_eq!((s.exec_per_sec, s.rss_mb), (0, Some(38)));
    let unit = s.unit.unwrap();
    assert_eq!((unit.len, unit.corpus_max_len), (12, 12));
    assert_eq!(
        unit.mutations,
        r#"3 CrossOver-CMP-CrossOver- DE: "\001\000\000\000"-"#
    );

    // #2\tINITED cov: 18 ft: 18 corp: 1/1b exec/s: 0 rss: 33Mb (no lim:)
    let s = status_line("fuzz-final-stats.log", "#2\t");
    assert_eq!(s.event, StatusEvent::Inited);
    assert_eq!(
        (s.corpus_files, s.corpus_bytes, s.lim, s.unit),
        (Some(1), Some(1), None, None)
    );

    let s = status_line("fuzz-final-stats.log", "#18318\t");
    assert_eq!((s.event, s.corpus_bytes), (StatusEvent::Reduce, Some(795)));

    // #524288\tpulse  cov: 23 ft: 64 corp: 21/1306b lim: 4096 exec/s: 174762 rss: 122Mb
    let s = status_line("fuzz-final-stats.log", "#524288\t");
    assert_eq!(s.event, StatusEvent::Pulse);
    assert_eq!(
        (s.exec_per_sec, s.rss_mb, s.lim),
        (174_762, Some(122), Some(4096))
    );

    // #1699197\tDONE   cov: 23 ft: 64 corp: 21/1306b lim: 4096 exec/s: 188799 rss: 304Mb
    let s = status_line("fuzz-final-stats.log", "#1699197\t");
    assert_eq!(s.event, StatusEvent::Done);
    assert_eq!(
        (s.execs, s.corpus_files, s.corpus_bytes),
        (1_699_197, Some(21), Some(1306))
    );
    assert_eq!((s.exec_per_sec, s.rss_mb), (188_799, Some(304)));
}

#[test]
fn corpus_sizes_in_kb_and_mb_are_bytes() {
    // The step from `15213b` to `16Kb` when the corpus passes 16 KiB.
    assert_eq!(
        status_line("reload-worker0.log", "#7603\t").corpus_bytes,
        Some(15_213)
    );
    assert_eq!(
        status_line("reload-worker0.log", "#7620\t").corpus_bytes,
        Some(16 << 10)
    );

    // #27240\tRELOAD cov: 401 ft: 1120 corp: 569/8869Kb lim: 32768 exec/s: 6810 rss: 404Mb
    let s = status_line("reload-worker0.log", "#27240\t");
    assert_eq!(s.event, StatusEvent::Reload);
    assert_eq!(
        (s.corpus_files, s.corpus_bytes),
        (Some(569), Some(8869 << 10))
    );
    assert_eq!(
        (s.cov, s.ft, s.lim, s.rss_mb),
        (Some(401), Some(1120), Some(32768), Some(404))
    );

    let s = status_line("reload-worker1.log", "#540\t");
    assert_eq!(
        (s.event.clone(), s.corpus_bytes),
        (StatusEvent::Inited, Some(7248 << 10))
    );

    // #2000\tDONE   cov: 1345 ft: 1721 corp: 552/34Mb lim: 81921 exec/s: 2000 rss: 357Mb
    let s = status_line("big-corpus.log", "#2000\t");
    assert_eq!(
        (s.corpus_files, s.corpus_bytes),
        (Some(552), Some(34 << 20))
    );
    assert_eq!(
        status_line("big-corpus.log", "#257\t").corpus_bytes,
        Some(20 << 20)
    );
}

#[test]
fn merge_and_fork_status_lines() {
    // #696\tDONE   cov: 412 ft: 1229 exec/s: 0 rss: 74Mb (merges print no corp:)
    let s = status_line("merge.log", "#696\t");
    assert_eq!(s.event, StatusEvent::Done);
    assert_eq!(
        (s.cov, s.ft, s.corpus_files, s.rss_mb),
        (Some(412), Some(1229), None, Some(74))
    );

    // #1636817: cov: 39 ft: 39 corp: 6 exec/s: 0 oom/timeout/crash: 0/0/27 time: 12s job: 28 dft_time: 0
    let s = status_line("fork-ignore-crashes.log", "#1636817:");
    let job = ForkJob {
        job: 28,
        ooms: 0,
        timeouts: 0,
        crashes: 27,
        elapsed_s: 12,
        dft_time_s: 0,
    };
    assert_eq!(s.event, StatusEvent::ForkJob(job));
    assert_eq!(
        (s.execs, s.cov, s.ft, s.corpus_files),
        (1_636_817, Some(39), Some(39), Some(6))
    );
    assert_eq!((s.corpus_bytes, s.rss_mb), (None, None));

    let s = status_line("fork-timeouts.log", "#716:");
    let StatusEvent::ForkJob(job) = s.event else {
        panic!("{s:?}")
    };
    assert_eq!(
        (job.timeouts, job.job, job.elapsed_s, s.exec_per_sec),
        (3, 4, 8, 89)
    );
}

#[test]
fn execution_counts_only_grow_and_end_at_the_final_stats() {
    for log in [
        "fuzz-final-stats.log",
        "reload-worker0.log",
        "reload-worker1.log",
        "slow-unit.log",
    ] {
        let p = parse_log(log);
        let execs: Vec<u64> = p.statuses.iter().map(|s| s.execs).collect();
        assert!(execs.windows(2).all(|w| w[0] <= w[1]), "{log}: {execs:?}");
        let done = p.statuses.last().unwrap();
        assert_eq!(done.event, StatusEvent::Done, "{log}");
        assert_eq!(
            done.execs,
            parse_final_stats(&read(log)).unwrap().executed_units,
            "{log}"
        );
    }
}

#[test]
fn final_stats_blocks() {
    assert_eq!(
        parse_final_stats(&read("fuzz-final-stats.log")),
        Ok(FinalStats {
            executed_units: 1_699_197,
            average_exec_per_sec: 188_799,
            new_units_added: 24,
            slowest_unit_time_s: 0,
            peak_rss_mb: 304,
        })
    );
    let slow = parse_final_stats(&read("slow-unit.log")).unwrap();
    assert_eq!(
        (
            slow.slowest_unit_time_s,
            slow.new_units_added,
            slow.peak_rss_mb
        ),
        (2, 2, 36)
    );
}
