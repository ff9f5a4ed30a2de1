//! What fuzzfleet reports is true on real crashing targets (issue 13): a bounded run
//! triages what it found before it exits, so nothing is left pending; a target that
//! restarts every few seconds still has a rate, and after the run its last rate and its
//! average stay; one line per new bug, not per copy; a periodic progress line; a target
//! that cannot start fails a bounded run; every id `crashes list` prints works.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Fleet, KillOnDrop};

fn pending(buckets: &[Value]) -> usize {
    buckets.iter().filter(|b| b["signature"].is_null()).count()
}

#[test]
fn a_bounded_run_of_a_crashing_target_ends_triaged_with_a_true_rate_and_one_line_per_bug() {
    let fleet = Fleet::with_top(
        "progress_every = \"4s\"\n",
        "[tier.t]\ntargets = [\"crash_often\"]\nbudget = \"1h\"\n",
    );
    let out = fleet.run_once("20s", 2);
    let log = String::from_utf8_lossy(&out.stderr);
    println!("{log}");

    // Everything found was filed before the run ended.
    let buckets = fleet.buckets();
    assert!(!buckets.is_empty(), "crash_often crashes every few seconds");
    assert_eq!(
        pending(&buckets),
        0,
        "untriaged findings left: {buckets:#?}"
    );
    assert!(log.contains("triaging what they found"), "{log}");
    assert!(
        log.contains("triage done") || log.contains("triage stopped"),
        "{log}"
    );

    // One line per bug: crash_often is one bug however many inputs hit it.
    let new_bug_lines = log.lines().filter(|l| l.contains("NEW BUG")).count();
    assert_eq!(new_bug_lines, buckets.len(), "{log}");
    assert!(
        !log.contains("(finding "),
        "per-copy lines flood the log: {log}"
    );
    assert!(log.contains("progress: "), "no progress line: {log}");
    assert!(!log.contains(" 1 workers"), "{log}");
    // Each progress line is about the seconds since the last one: the target that
    // restarts every few seconds is named in every line, a line that falls between two
    // of its runs too, with the rate over those seconds.
    for line in log.lines().filter(|l| l.contains("progress: ")) {
        assert!(
            line.contains("1 target on 2 workers (crash_often); ") && !line.contains("; 0 execs/s"),
            "{line}\n{log}"
        );
    }

    // The rate: counted across restarts, kept after the stop, labelled.
    let t = fleet.target("crash_often");
    assert_eq!(t["state"], "stopped");
    assert_eq!(t["execs_per_sec"].as_f64(), Some(0.0), "{t}");
    let last = t["last_execs_per_sec"].as_f64().unwrap();
    let avg = t["avg_execs_per_sec"].as_f64().unwrap();
    assert!(last > 100.0, "last rate {last}: {t}");
    assert!(avg > 100.0, "average {avg}: {t}");
    let execs = t["execs"].as_f64().unwrap();
    assert!(
        avg <= execs / 10.0,
        "the average over ~20 s cannot exceed execs/10: {avg} vs {execs}"
    );
    // The three counts, each named once: hits >= inputs >= bugs.
    let (hits, inputs, bugs) = (
        t["crashes"].as_i64().unwrap(),
        t["inputs"].as_i64().unwrap(),
        t["bugs"].as_i64().unwrap(),
    );
    assert!(hits >= inputs && inputs >= bugs && bugs >= 1, "{t}");
    assert_eq!(t["buckets"], t["bugs"]);
    assert_eq!(t["pending"], 0);

    let table = fleet.output(&["status"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("LAST/AVG") && table.contains("total: "),
        "{table}"
    );
    // Its place in the schedule: tier t, time used of the run's 20 s budget (`--budget`).
    assert!(table.contains("/20s"), "{table}");

    // `regress` says what still crashes by bug: a line per bug, however many of its
    // inputs crash (it printed a line per input: 190 lines for 2 bugs).
    let out = fleet.output(&["regress"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "the bug still crashes: {said}");
    assert_eq!(
        said.matches("  └ bug ").count() as i64,
        bugs,
        "a line per bug: {said}"
    );
    let per_input = said.lines().filter(|l| l.contains("crash-")).count() as i64;
    assert!(
        per_input <= bugs,
        "at most one example input per bug ({inputs} inputs): {said}"
    );
}

#[test]
fn a_target_that_cannot_start_says_so_once_and_fails_a_bounded_run() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"fail_start\", \"clean\"]\nbudget = \"3s\"\n");
    let out = fleet.output(&[
        "run",
        "--no-build",
        "--once",
        "--budget",
        "3s",
        "--workers",
        "1",
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        !log.contains("fail_start: fuzzing on"),
        "announced as fuzzing: {log}"
    );
    assert_eq!(
        log.matches("fail_start: FAILED").count(),
        1,
        "the failure once: {log}"
    );
    assert!(log.contains("clean: fuzzing on 1 worker"), "{log}");
    let t = fleet.target("fail_start");
    assert_eq!(t["state"], "failed", "{t}");
}

#[test]
fn every_id_crashes_list_prints_works_even_before_triage() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"crash_often\"]\nbudget = \"1h\"\n");
    let mut run = KillOnDrop(fleet.start(&["--workers", "2"]));
    fleet_testkit::wait_until(
        "two crashing inputs recorded",
        Duration::from_secs(90),
        || {
            fleet
                .buckets()
                .iter()
                .map(|b| b["findings"].as_array().map_or(0, Vec::len))
                .sum::<usize>()
                >= 2
        },
    );
    // Two Ctrl-Cs: the second leaves the final triage to the next run.
    support::signal(&run.0, libc::SIGINT);
    // The second once the first has been taken (two at once may arrive as one).
    fleet_testkit::wait_until("the first Ctrl-C taken", Duration::from_secs(20), || {
        fleet.run_log().contains("stopping: ")
    });
    support::signal(&run.0, libc::SIGINT);
    let (code, _) = support::wait_exit(&mut run.0, Duration::from_secs(20));
    assert!(code.is_some(), "run did not exit: {}", fleet.run_log());

    let list = fleet.output(&["crashes", "list"]);
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    let each = fleet.output(&["crashes", "list", "--pending"]);
    let each = String::from_utf8_lossy(&each.stdout).to_string();
    let ids: Vec<String> = each
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect();
    assert!(!ids.is_empty(), "{each}");
    if pending(&fleet.buckets()) > 0 {
        assert!(text.contains("not triaged yet"), "{text}");
    }
    for id in &ids {
        let show = fleet.output(&["crashes", "show", id]);
        let show = String::from_utf8_lossy(&show.stdout);
        assert!(!show.contains("<target binary>"), "{show}");
        assert!(show.contains("fuzzfleet crashes repro"), "{show}");
        assert!(show.contains("crash_often "), "no binary to paste: {show}");
    }
    let repro = fleet.output(&["crashes", "repro", &ids[0], "--runs", "1"]);
    assert!(
        repro.status.success(),
        "repro of a listed id: {}{}",
        String::from_utf8_lossy(&repro.stdout),
        String::from_utf8_lossy(&repro.stderr)
    );
}

#[test]
fn corpus_figures_follow_a_minimization_and_a_restore() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    fleet.run_once("6s", 1);
    let out = fleet.output(&["corpus", "minimize", "clean"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let on_disk = support::names(&fleet.state().join("corpus/clean")).len() as i64;
    assert_eq!(fleet.target("clean")["corpus_files"], on_disk);

    let archive = fleet.path().join("b.tar");
    let b = fleet.output(&["backup", archive.to_str().unwrap()]);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    // A stale figure in the database is put right by a restore.
    let db = fleet_store::Db::open(&fleet.state().join("fleet.db")).unwrap();
    let mut t = db.target("clean").unwrap().unwrap();
    t.corpus_files = 99_999;
    db.put_target(&t).unwrap();
    drop(db);
    let r = fleet.output(&["restore", archive.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(fleet.target("clean")["corpus_files"], on_disk);
}
